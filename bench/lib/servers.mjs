// The servers under test. Each entry knows whether it can run here, how to write its config
// and accounts into a temp dir, and the command line that starts it in the foreground (the
// bench stops it by that process's PID). Adding a server = adding an entry.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeProsodyAccounts } from './accounts.mjs';

/** Config shared by both servers: Prosody's syntax, which Clove reads too. */
function commonConfig({ dir, port, certDir, dataPath, logPath }) {
  return [
    '-- Written by bench/run.mjs for one benchmark run; deleted afterwards.',
    'interfaces = { "127.0.0.1" }',
    'run_as_root = true', // the bench machines run as root
    `c2s_ports = { ${port} }`,
    's2s_ports = { }',
    `data_path = ${JSON.stringify(dataPath)}`,
    `certificates = ${JSON.stringify(certDir)}`,
    `pidfile = ${JSON.stringify(path.join(dir, 'server.pid'))}`,
    `log = { warn = ${JSON.stringify(logPath)} }`,
    'authentication = "internal_hashed"',
    'c2s_require_encryption = true',
    'allow_registration = false',
    // mod_limits is not in the list, so no rate limit throttles the load generator.
    'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping" }',
  ];
}

function readFileOr(p, dflt) {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return dflt;
  }
}

export const prosody = {
  name: 'prosody',
  label: 'Prosody',

  /** { ok, reason } */
  available() {
    if (!fs.existsSync('/usr/bin/prosody')) return { ok: false, reason: '/usr/bin/prosody not found' };
    return { ok: true };
  },

  version() {
    // `prosody --version` hangs on this Debian build; ask dpkg instead.
    const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'prosody'], { encoding: 'utf8' });
    return r.status === 0 ? `Prosody ${r.stdout.trim()} (Debian package)` : 'Prosody (version unknown)';
  },

  /** Writes config and accounts; returns how to start it. */
  async prepare({ dir, port, certDir, domain, prosodyCreds, prosodyExtra = [], sections = [] }) {
    const dataPath = path.join(dir, 'data');
    const logPath = path.join(dir, 'prosody.log');
    fs.mkdirSync(dataPath, { recursive: true });
    const t0 = Date.now();
    writeProsodyAccounts(dataPath, domain, prosodyCreds);
    const accountsMs = Date.now() - t0;
    const cfg = [
      ...commonConfig({ dir, port, certDir, dataPath, logPath }),
      // We run as root; Prosody 0.12 would otherwise try to switch to the 'prosody' user.
      'run_as_root = true',
      'network_backend = "epoll"',
      // --prosody-extra: experiments away from Prosody's defaults (reported in RESULTS.md).
      ...prosodyExtra,
      '',
      `VirtualHost ${JSON.stringify(domain)}`,
      '',
      // Sections after the VirtualHost (a Component for the MUC bench).
      ...sections,
    ].join('\n');
    const configPath = path.join(dir, 'prosody.cfg.lua');
    fs.writeFileSync(configPath, cfg);
    return {
      // -F (foreground) is the non-deprecated spelling of `daemonize = false` in 0.12.
      argv: ['/usr/bin/prosody', '-F', '--config', configPath],
      cwd: dir,
      env: {},
      configPath,
      logPath,
      stdoutPath: path.join(dir, 'prosody.stdout'),
      startTimeoutMs: 30000,
      accountsNote: `${prosodyCreds.length} accounts written as internal_hashed files in ${accountsMs} ms`,
    };
  },
};

export function makeClove(repoRoot) {
  const bin = path.join(repoRoot, 'bin', 'clove.js');
  return {
    name: 'clove',
    label: 'Clove',

    available() {
      if (!fs.existsSync(bin)) return { ok: false, reason: `${bin} not found (Clove not built/written yet)` };
      if (!fs.existsSync(path.join(repoRoot, 'dist'))) {
        return { ok: false, reason: 'dist/ missing: run `npm run build` (or use `npm run bench`)' };
      }
      return { ok: true };
    },

    version() {
      const pkg = JSON.parse(readFileOr(path.join(repoRoot, 'package.json'), '{}'));
      const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' });
      const sha = rev.status === 0 ? ` @ ${rev.stdout.trim()}` : '';
      return `Clove ${pkg.version ?? '?'}${sha} on Node ${process.version}`;
    },

    /** `cloveExtra`: more global config lines (e.g. a cheaper bcrypt cost for many accounts); `sections`: lines after the VirtualHost. */
    async prepare({ dir, port, certDir, domain, users, cpus, cloveExtra = [], sections = [] }) {
      const dataPath = path.join(dir, 'data');
      const logPath = path.join(dir, 'clove.log');
      fs.mkdirSync(dataPath, { recursive: true });
      // Clove reads at most 100 kB/s per client by default (`limits`); Prosody has no rate limit
      // without mod_limits, so both run unlimited: the bench measures the servers, not the limit.
      const cfg = [...commonConfig({ dir, port, certDir, dataPath, logPath }), 'limits = { }', ...cloveExtra, '', `VirtualHost ${JSON.stringify(domain)}`, '', ...sections];
      const configPath = path.join(dir, 'clove.cfg.lua');
      fs.writeFileSync(configPath, cfg.join('\n'));
      // Accounts through Clove's own batch command: "user@host password" per line on stdin.
      const t0 = Date.now();
      const input = users.map((u) => `${u.user}@${domain} ${u.password}\n`).join('');
      await runWithInput(
        ['taskset', '-c', cpus, process.execPath, bin, 'adduser', '--batch', '--config', configPath],
        repoRoot,
        input,
        600000,
      );
      const accountsMs = Date.now() - t0;
      // Started as Clove's launchers start it (npm start, start -D, the systemd unit, the image):
      // with its process-start settings (src/cli/process-env.ts).
      const { withServerProcessEnv } = await import(pathToFileURL(path.join(repoRoot, 'dist', 'cli', 'process-env.js')).href);
      return {
        argv: [process.execPath, bin, 'start', '--config', configPath],
        cwd: repoRoot,
        env: withServerProcessEnv({ ...process.env, NODE_ENV: 'production', CLOVE_STATS_FILE: path.join(dir, 'stats.json'), CLOVE_STATS_RESET: '1' }),
        statsPath: path.join(dir, 'stats.json'),
        configPath,
        logPath,
        stdoutPath: path.join(dir, 'clove.stdout'),
        startTimeoutMs: 30000,
        accountsNote: `${users.length} accounts created with \`clove adduser --batch\` in ${accountsMs} ms`,
      };
    },

    /**
     * Samples Clove's own stats (CLOVE_STATS_FILE: JSON written once a second, reset after each
     * write because CLOVE_STATS_RESET=1, so each sample covers the last second). Returns
     * stop() → { p99Ms: worst per-second p99, p50Ms: median of per-second p50s, maxMs, samples }.
     */
    startStats(prepared) {
      return startStatsSampler(prepared.statsPath);
    },
  };
}

/**
 * The login floor (bench/lib/floor-server.mjs): Node's TLS and SASL cryptography with nothing of
 * a real server around them: the login rate no XMPP server on Node 20 can go above. Login
 * phases only: it routes no messages, and its memory per session is no floor (Clove holds less:
 * it wraps TLS after the client's hello and manages V8's young generation). Started with
 * Clove's process-start settings.
 */
export function makeFloor(repoRoot) {
  const script = path.join(repoRoot, 'bench', 'lib', 'floor-server.mjs');
  return {
    name: 'floor',
    label: 'Node floor',
    phases: new Set(['logins', 'fresh', 'scram']),

    available() {
      if (!fs.existsSync(path.join(repoRoot, 'dist'))) return { ok: false, reason: 'dist/ missing: run `npm run build` (the floor takes Clove\'s process-start settings from it)' };
      return { ok: true };
    },

    version() {
      return `login floor (bench/lib/floor-server.mjs) on Node ${process.version}`;
    },

    async prepare({ dir, port, certDir, domain, prosodyCreds }) {
      const credsPath = path.join(dir, 'creds.json');
      fs.writeFileSync(credsPath, JSON.stringify(prosodyCreds), { mode: 0o600 });
      const { withServerProcessEnv } = await import(pathToFileURL(path.join(repoRoot, 'dist', 'cli', 'process-env.js')).href);
      return {
        argv: [process.execPath, script, '--port', String(port), '--cert', path.join(certDir, `${domain}.crt`), '--key', path.join(certDir, `${domain}.key`), '--creds', credsPath, '--domain', domain],
        cwd: dir,
        env: withServerProcessEnv({ ...process.env, NODE_ENV: 'production' }),
        configPath: credsPath,
        logPath: path.join(dir, 'floor.stdout'),
        stdoutPath: path.join(dir, 'floor.stdout'),
        startTimeoutMs: 30000,
        accountsNote: `${prosodyCreds.length} credentials (Prosody's records) held in memory`,
      };
    },
  };
}

/**
 * Polls a stats file the server rewrites every second; see makeClove().startStats. Besides
 * stop(), drain() hands over (and forgets) the samples read since the last drain().
 */
export function startStatsSampler(file) {
  const samples = [];
  let lastMtime = 0;
  const read = () => {
    try {
      const st = fs.statSync(file);
      if (st.mtimeMs === lastMtime) return;
      lastMtime = st.mtimeMs;
      const j = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (j && j.eventLoopDelayMs) samples.push(j);
    } catch {
      // not written yet, or caught mid-write: take the next one
    }
  };
  read();
  samples.length = 0; // what was there before the phase does not count
  const timer = setInterval(read, 250);
  let drained = 0;
  return {
    drain() {
      read();
      const fresh = samples.slice(drained);
      drained = samples.length;
      return fresh;
    },
    stop() {
      clearInterval(timer);
      read();
      if (samples.length === 0) return undefined;
      const p99s = samples.map((s) => s.eventLoopDelayMs.p99);
      const p50s = samples.map((s) => s.eventLoopDelayMs.p50).sort((a, b) => a - b);
      return {
        p99Ms: Math.max(...p99s),
        p50Ms: p50s[p50s.length >> 1],
        maxMs: Math.max(...samples.map((s) => s.eventLoopDelayMs.max)),
        samples: samples.length,
        peakSessions: Math.max(...samples.map((s) => s.sessions ?? 0)),
      };
    },
  };
}

/** Runs argv with `input` on stdin; rejects with its output on a non-zero exit or timeout. */
export function runWithInput(argv, cwd, input, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.slice(3).join(' ')} timed out after ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`adduser --batch failed (code ${code}, signal ${signal}): ${out.trim().slice(-800)}`));
    });
    child.stdin.on('error', () => {}); // it may exit before reading everything
    child.stdin.end(input);
  });
}
