// A real Prosody (Debian's 0.12) as a child process for interoperability tests: a generated
// config in a temp dir, a self-signed certificate for its VirtualHost, accounts written straight
// into its internal_hashed store, c2s and s2s on free ports of 127.0.0.1, debug log kept for
// failure reports. With `onions`, mod_onions (prosody-modules) sends its outbound s2s through a
// SOCKS5 proxy — the test proxy standing in for i2pd.
//
// Prosody 0.12 facts this relies on (read from /usr/lib/prosody and mod_onions.lua):
// - accounts: <data_path>/<enc(host)>/accounts/<enc(user)>.dat, a Lua table with the SCRAM-SHA-1
//   salt (used as-is), iteration_count, and hex stored_key/server_key (mod_auth_internal_hashed);
//   enc() turns every non-alphanumeric byte into %xx (util/datamanager.lua).
// - mod_onions options: onions_socks5_host, onions_socks5_port, onions_map (domain → host or
//   { host, port }), onions_only; it hooks route/remote, so mod_dialback's db:verify requests
//   take the same path. It sends the hostname (ATYP 3) and accepts only a 0.0.0.0:0 reply,
//   which is what i2pd (and the test proxy) answer.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, createHmac, pbkdf2, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';

const PROSODY = '/usr/bin/prosody';
/** Where Debian's prosody-modules may put mod_onions (a flat file or a mod_onions/ directory). */
const MODULE_DIRS = ['/usr/share/prosody-modules', '/usr/lib/prosody-modules', '/usr/lib/prosody/modules'];

export interface ProsodyOptions {
  /** The VirtualHost Prosody serves. */
  domain: string;
  /** Accounts to create before start. */
  users?: ReadonlyArray<{ user: string; password: string }>;
  /** Load mod_onions with this SOCKS5 proxy port (on 127.0.0.1) and map. */
  onions?: { socksPort: number; map: Readonly<Record<string, string | { host: string; port: number }>>; only?: boolean };
  /** Extra global config lines. */
  extra?: string[];
  /** Modules to load besides the basic ones (e.g. 'pep'). */
  modules?: string[];
  /** Components after the VirtualHost (`Component "rooms.example" "muc"`), sharing its certificate. */
  components?: ReadonlyArray<{ domain: string; module: string }>;
  /** How long start() waits for stream features on the c2s port; default 20 s. */
  startTimeoutMs?: number;
}

export interface ProsodyServer {
  domain: string;
  c2sPort: number;
  s2sPort: number;
  dir: string;
  pid: number;
  logPath: string;
  configPath: string;
  /** The whole debug log so far. */
  log(): string;
  /** The last `n` lines of the log (and of stdout/stderr), for failure messages. */
  tail(n?: number): string;
  stop(): Promise<void>;
}

/** True when Prosody is installed (tests skip otherwise). */
export function prosodyAvailable(): boolean {
  return existsSync(PROSODY);
}

/** The plugin directory holding mod_onions, or undefined when prosody-modules is not installed. */
export function onionsModuleDir(): string | undefined {
  return MODULE_DIRS.find((d) => existsSync(join(d, 'mod_onions', 'mod_onions.lua')) || existsSync(join(d, 'mod_onions.lua')));
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it back, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Prosody's datamanager file-name encoding: every non-alphanumeric byte → %xx. */
function pathEncode(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1').replace(/[^A-Za-z0-9]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

/** A Lua string literal. */
function lua(s: string): string {
  return '"' + s.replace(/[\\"]/g, (c) => '\\' + c).replace(/\n/g, '\\n') + '"';
}

/** One account file as mod_auth_internal_hashed stores it (SCRAM-SHA-1 keys, RFC 5802). */
async function writeAccount(dataPath: string, host: string, user: string, password: string): Promise<void> {
  const iterations = 4096;
  const salt = randomUUID();
  // Test passwords are plain ASCII, which SASLprep leaves unchanged.
  const salted = await promisify(pbkdf2)(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), iterations, 20, 'sha1');
  const clientKey = createHmac('sha1', salted).update('Client Key').digest();
  const storedKey = createHash('sha1').update(clientKey).digest('hex');
  const serverKey = createHmac('sha1', salted).update('Server Key').digest('hex');
  const dir = join(dataPath, pathEncode(host), 'accounts');
  await mkdir(dir, { recursive: true });
  const body = `return {\n\t["iteration_count"] = ${iterations};\n\t["salt"] = ${lua(salt)};\n\t["server_key"] = ${lua(serverKey)};\n\t["stored_key"] = ${lua(storedKey)};\n};\n`;
  await writeFile(join(dir, `${pathEncode(user)}.dat`), body);
}

function luaMapEntry(domain: string, target: string | { host: string; port: number }): string {
  const value = typeof target === 'string' ? lua(target) : `{ host = ${lua(target.host)}; port = ${target.port} }`;
  return `[${lua(domain)}] = ${value}`;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** One readiness probe: a c2s stream header answered with <stream:features>. */
function probe(port: number, domain: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    sock.setEncoding('utf8');
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
    sock.on('connect', () => sock.write(`<?xml version='1.0'?><stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`));
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.includes('features')) done(true);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Start Prosody on 127.0.0.1 with its own config, certificate, data and log in a temp dir. */
export async function startProsody(opts: ProsodyOptions): Promise<ProsodyServer> {
  const dir = await mkdtemp(join(tmpdir(), 'clove-prosody-'));
  const dataPath = join(dir, 'data');
  const certDir = join(dir, 'certs');
  const logPath = join(dir, 'prosody.log');
  const outPath = join(dir, 'prosody.out');
  const configPath = join(dir, 'prosody.cfg.lua');
  await mkdir(dataPath, { recursive: true });
  await mkdir(certDir, { recursive: true });
  let child: ChildProcess | undefined;
  let exited = false;
  let exitInfo = '';

  const tail = (n = 40): string => {
    const lines = readOr(logPath).trimEnd().split('\n').slice(-n).join('\n');
    const out = readOr(outPath).trim();
    return `--- prosody.log (last ${n} lines) ---\n${lines}${out ? `\n--- stdout/stderr ---\n${out.slice(-2000)}` : ''}`;
  };

  const stop = async (): Promise<void> => {
    if (child && !exited && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      for (let i = 0; i < 100 && !exited; i++) await sleep(50);
      if (!exited) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
        for (let i = 0; i < 40 && !exited; i++) await sleep(50);
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const crt = join(certDir, `${opts.domain}.crt`);
    const key = join(certDir, `${opts.domain}.key`);
    const ssl = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
      '-keyout', key, '-out', crt, '-subj', `/CN=${opts.domain}`, '-addext', `subjectAltName=${[opts.domain, ...(opts.components ?? []).map((c) => c.domain)].map((d) => `DNS:${d}`).join(',')}`,
    ], { encoding: 'utf8' });
    if (ssl.status !== 0) throw new Error(`openssl req failed: ${ssl.stderr || String(ssl.error)}`);

    for (const u of opts.users ?? []) await writeAccount(dataPath, opts.domain, u.user, u.password);

    const c2sPort = await freePort();
    const s2sPort = await freePort();
    const modules = ['roster', 'saslauth', 'tls', 'dialback', 'disco', 'ping', 'vcard', 'presence', ...(opts.modules ?? [])];
    const lines = [
      '-- Written by test/helpers/prosody.ts for one test run; deleted afterwards.',
      'daemonize = false',
      'run_as_root = true',
      `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
      `data_path = ${lua(dataPath)}`,
      'interfaces = { "127.0.0.1" }',
      `c2s_ports = { ${c2sPort} }`,
      `s2s_ports = { ${s2sPort} }`,
      // Direct TLS and HTTP listeners stay off: nothing listens on a fixed port.
      'c2s_direct_tls_ports = { }',
      's2s_direct_tls_ports = { }',
      'legacy_ssl_ports = { }',
      `log = { debug = ${lua(logPath)} }`,
      'authentication = "internal_hashed"',
      'allow_registration = false',
      's2s_secure_auth = false',
      's2s_require_encryption = true',
      'c2s_require_encryption = true',
    ];
    if (opts.onions) {
      const pluginDir = onionsModuleDir();
      if (!pluginDir) throw new Error(`mod_onions not found in ${MODULE_DIRS.join(', ')}: install the Debian package prosody-modules`);
      modules.push('onions');
      lines.push(
        `plugin_paths = { ${lua(pluginDir)} }`,
        'onions_socks5_host = "127.0.0.1"',
        `onions_socks5_port = ${opts.onions.socksPort}`,
        `onions_only = ${opts.onions.only ? 'true' : 'false'}`,
        `onions_map = { ${Object.entries(opts.onions.map).map(([d, t]) => luaMapEntry(d, t)).join('; ')} }`,
      );
    }
    lines.push(`modules_enabled = { ${modules.map(lua).join('; ')} }`, ...(opts.extra ?? []), '');
    lines.push(`VirtualHost ${lua(opts.domain)}`, `\tssl = { certificate = ${lua(crt)}; key = ${lua(key)} }`, '');
    // A component does not inherit the global modules_enabled: it loads mod_onions itself, or it
    // would look .i2p names up in DNS.
    for (const c of opts.components ?? []) {
      lines.push(`Component ${lua(c.domain)} ${lua(c.module)}`, `\tssl = { certificate = ${lua(crt)}; key = ${lua(key)} }`, ...(opts.onions ? ['\tmodules_enabled = { "onions" }'] : []), '');
    }
    await writeFile(configPath, lines.join('\n'));

    const out = openSync(outPath, 'a');
    // -F: stay in the foreground (0.12's spelling of daemonize = false); the PID is Prosody's.
    child = spawn(PROSODY, ['-F', '--config', configPath], { cwd: dir, stdio: ['ignore', out, out] });
    closeSync(out);
    child.on('exit', (code, signal) => {
      exited = true;
      exitInfo = `code ${code}, signal ${signal}`;
    });
    child.on('error', (err) => {
      exited = true;
      exitInfo = err.message;
    });

    const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
    for (;;) {
      if (exited) throw new Error(`Prosody exited during start-up (${exitInfo})`);
      if (await probe(c2sPort, opts.domain)) break;
      if (Date.now() > deadline) throw new Error(`Prosody gave no stream features on 127.0.0.1:${c2sPort} within ${(opts.startTimeoutMs ?? 20_000) / 1000} s`);
      await sleep(100);
    }

    return {
      domain: opts.domain,
      c2sPort,
      s2sPort,
      dir,
      pid: child.pid as number,
      logPath,
      configPath,
      log: () => readOr(logPath),
      tail,
      stop,
    };
  } catch (err) {
    const report = tail();
    await stop();
    throw new Error(`${(err as Error).message}\n${report}`);
  }
}
