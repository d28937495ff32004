// Server pairs for the s2s benchmark: two servers of the same kind, each with its own temp dir,
// config, certificate, accounts and data, federating through the bench's SOCKS5 proxy
// (bench/lib/s2s-proxy.mjs) — Clove with its darknet module, Prosody with mod_onions from
// Debian's prosody-modules. Both send the proxy the peer's `.b32.i2p` name with port 5269 and
// the proxy joins it to the peer's s2s port on 127.0.0.1, so both kinds cross the same extra hop.
//
// Prosody 0.12 / mod_onions facts this relies on (read from /usr/lib/prosody/modules):
// - mod_onions hooks route/remote at priority 200 for names ending in .onion or listed in
//   onions_map (a name, or { host; port }), so mod_dialback's db:verify takes the same path;
//   it sends ATYP 3 and accepts only a 0.0.0.0:0 success reply, then hands the socket to
//   mod_s2s's listener (STARTTLS and dialback as usual).
// - certificates = <dir> makes it look for <dir>/<host>.crt and .key; mod_s2s_auth_certs finds
//   the self-signed peer certificate untrusted and, with s2s_secure_auth = false, dialback runs.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeProsodyAccounts } from './accounts.mjs';
import { runWithInput } from './servers.mjs';

const PLUGIN_DIRS = ['/usr/lib/prosody/modules', '/usr/share/prosody-modules', '/usr/lib/prosody-modules'];

/** The directory holding mod_onions (flat file or mod_onions/), or undefined. */
export function onionsDir() {
  return PLUGIN_DIRS.find(
    (d) => fs.existsSync(path.join(d, 'mod_onions', 'mod_onions.lua')) || fs.existsSync(path.join(d, 'mod_onions.lua')),
  );
}

function luaStr(s) {
  return JSON.stringify(s);
}

/** Global lines both kinds share (Prosody's syntax, which Clove reads too). */
function commonLines({ dir, c2sPort, s2sPort, certDir, logPath }) {
  return [
    '-- Written by bench/s2s.mjs for one benchmark run; deleted afterwards.',
    'interfaces = { "127.0.0.1" }',
    'run_as_root = true', // the bench machines run as root
    `c2s_ports = { ${c2sPort} }`,
    `s2s_ports = { ${s2sPort} }`,
    `data_path = ${luaStr(path.join(dir, 'data'))}`,
    `certificates = ${luaStr(certDir)}`,
    `pidfile = ${luaStr(path.join(dir, 'server.pid'))}`,
    `log = { warn = ${luaStr(logPath)} }`,
    'authentication = "internal_hashed"',
    'c2s_require_encryption = true',
    's2s_require_encryption = true',
    // Self-signed certificates: dialback authenticates the peers, as on I2P.
    's2s_secure_auth = false',
    'allow_registration = false',
  ];
}

export const PROSODY_BIN = '/usr/bin/prosody';

/**
 * The two servers' static description. `sides`: [{ name, domain, c2sPort, s2sPort, dir }];
 * `proxyPort`: the SOCKS5 proxy. Returns per side { argv, cwd, env, configPath, logPath, stdoutPath }.
 */
export const kinds = {
  prosody: {
    name: 'prosody',
    label: 'Prosody↔Prosody',
    available() {
      if (!fs.existsSync(PROSODY_BIN)) return { ok: false, reason: `${PROSODY_BIN} not found` };
      if (!onionsDir()) return { ok: false, reason: 'mod_onions not found: install the Debian package prosody-modules' };
      return { ok: true };
    },
    version() {
      const q = (p) => spawnSync('dpkg-query', ['-W', '-f', '${Version}', p], { encoding: 'utf8' });
      const p = q('prosody');
      const m = q('prosody-modules');
      return (
        `Prosody ${p.status === 0 ? p.stdout.trim() : '?'} (Debian package), mod_onions from prosody-modules ` +
        `${m.status === 0 ? m.stdout.trim() : '?'}`
      );
    },
    async prepareSide(side, { certDir, proxyPort, domains, users, prosodyCreds, prosodyExtra = [] }) {
      const logPath = path.join(side.dir, 'prosody.log');
      const template = path.join(side.dir, 'data.template');
      fs.mkdirSync(template, { recursive: true });
      writeProsodyAccounts(template, side.domain, prosodyCreds);
      const map = domains.map((d) => `[${luaStr(d)}] = { host = ${luaStr(d)}; port = 5269 }`).join('; ');
      const lines = [
        ...commonLines({ ...side, certDir, logPath }),
        'c2s_direct_tls_ports = { }',
        's2s_direct_tls_ports = { }',
        'run_as_root = true',
        'network_backend = "epoll"',
        `plugin_paths = { ${luaStr(onionsDir())} }`,
        'onions_socks5_host = "127.0.0.1"',
        `onions_socks5_port = ${proxyPort}`,
        'onions_only = true',
        `onions_map = { ${map} }`,
        // mod_limits is not loaded: no rate limit on c2s or s2s.
        'modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "onions" }',
        // --prosody-extra: experiments away from Prosody's defaults (flagged in the report).
        ...prosodyExtra,
        '',
        `VirtualHost ${luaStr(side.domain)}`,
        '',
      ];
      const configPath = path.join(side.dir, 'prosody.cfg.lua');
      fs.writeFileSync(configPath, lines.join('\n'));
      return {
        argv: [PROSODY_BIN, '-F', '--config', configPath],
        cwd: side.dir,
        env: {},
        configPath,
        logPath,
        stdoutPath: path.join(side.dir, 'prosody.stdout'),
        template,
        accountsNote: `${users.length} accounts written as internal_hashed files`,
      };
    },
  },

  clove: {
    name: 'clove',
    label: 'Clove↔Clove',
    repoRoot: null,
    available() {
      const bin = path.join(this.repoRoot, 'bin', 'clove.js');
      if (!fs.existsSync(bin)) return { ok: false, reason: `${bin} not found` };
      if (!fs.existsSync(path.join(this.repoRoot, 'dist'))) return { ok: false, reason: 'dist/ missing: run `npm run build`' };
      return { ok: true };
    },
    version() {
      let pkg = {};
      try {
        pkg = JSON.parse(fs.readFileSync(path.join(this.repoRoot, 'package.json'), 'utf8'));
      } catch {
        // unknown
      }
      const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: this.repoRoot, encoding: 'utf8' });
      // Read-only: are there uncommitted changes under src/ (what dist/ was built from)?
      const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: this.repoRoot, encoding: 'utf8' });
      const sha = rev.status === 0 ? ` @ ${rev.stdout.trim()}${dirty.status === 0 && dirty.stdout.trim() ? ' with uncommitted changes in src/' : ''}` : '';
      let built = '';
      try {
        built = `, dist/ built ${fs.statSync(path.join(this.repoRoot, 'dist', 'main.js')).mtime.toISOString()}`;
      } catch {
        // no dist/main.js
      }
      return `Clove ${pkg.version ?? '?'}${sha}${built}, on Node ${process.version}`;
    },
    async prepareSide(side, { certDir, proxyPort, users, cpus }) {
      const bin = path.join(this.repoRoot, 'bin', 'clove.js');
      const logPath = path.join(side.dir, 'clove.log');
      const lines = [
        ...commonLines({ ...side, certDir, logPath }),
        'darknet_only = true',
        'darknet_socks5_host = "127.0.0.1"',
        `darknet_socks5_port = ${proxyPort}`,
        'modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "darknet" }',
        '',
        `VirtualHost ${luaStr(side.domain)}`,
        '',
      ];
      const configPath = path.join(side.dir, 'clove.cfg.lua');
      fs.writeFileSync(configPath, lines.join('\n'));
      // Accounts go into data/ through Clove's own batch command, which is then kept as the
      // template every run starts from.
      const t0 = Date.now();
      const input = users.map((u) => `${u.user}@${side.domain} ${u.password}\n`).join('');
      await runWithInput(
        ['taskset', '-c', cpus, process.execPath, bin, 'adduser', '--batch', '--config', configPath],
        this.repoRoot,
        input,
        300000,
      );
      const template = path.join(side.dir, 'data.template');
      fs.renameSync(path.join(side.dir, 'data'), template);
      return {
        argv: [process.execPath, bin, 'start', '--config', configPath],
        cwd: this.repoRoot,
        env: { NODE_ENV: 'production' },
        configPath,
        logPath,
        stdoutPath: path.join(side.dir, 'clove.stdout'),
        template,
        accountsNote: `${users.length} accounts created with \`clove adduser --batch\` in ${Date.now() - t0} ms`,
      };
    },
  },
};

/** Fresh data for a run: data/ becomes a copy of the accounts-only template. */
export function resetData(side, prepared) {
  const data = path.join(side.dir, 'data');
  fs.rmSync(data, { recursive: true, force: true });
  fs.cpSync(prepared.template, data, { recursive: true });
  fs.rmSync(path.join(side.dir, 'server.pid'), { force: true });
}
