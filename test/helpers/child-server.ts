// Run Clove as an operator would — `node bin/clove.js start --config <file>` in a child
// process — for tests that need a real process boundary (SIGKILL, RSS) or its log. The child
// listens on port 0 on 127.0.0.1; its port is read back from the `c2s listening on
// 127.0.0.1:PORT` log line on stderr (pino JSON), and with `s2s: true` its s2s port from
// `s2s listening on 127.0.0.1:PORT`, and with `http: true` its HTTP port from `http listening on …`. `npm run build` (the pretest step) must have produced dist/.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where bin/clove.js lives). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLOVE = join(REPO_ROOT, 'bin', 'clove.js');
/** Shared with the in-process test server, so RSA keys are generated once per machine. */
const CERT_DIR = join(tmpdir(), 'clove-test-certs');

export interface ChildExit { code: number | null; signal: NodeJS.Signals | null }

/** One pino line the child wrote to stderr (level 30 = info, 40 = warn, 50 = error). */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface ChildServer {
  readonly pid: number;
  readonly port: number;
  /** The s2s port, when started with `s2s: true`; 0 otherwise. */
  readonly s2sPort: number;
  /** The XEP-0114 component port, when started with `component: true`; 0 otherwise. */
  readonly componentPort: number;
  /** The HTTP port, when started with `http: true`; 0 otherwise. */
  readonly httpPort: number;
  /** The temp directory holding the config and `data/`. */
  readonly dir: string;
  readonly dataPath: string;
  readonly configPath: string;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** The pino lines on stderr so far, parsed (other lines are skipped). */
  logs(): LogLine[];
  /** Resolves with the first log line (already written or to come) that passes `test`. */
  waitForLog(test: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves when the child has exited. */
  readonly exited: Promise<ChildExit>;
  /** Send a signal to the child's PID and wait for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<ChildExit>;
  /** Resident set size of the child in bytes, from /proc (Linux). */
  rss(): Promise<number>;
}

export interface ChildOptions {
  /** Reuse this directory (config + data): restart after a crash. A fresh temp dir otherwise. */
  dir?: string;
  /** Extra global config lines. */
  extra?: string;
  /** Host sections; default `VirtualHost "localhost"`. */
  hosts?: string;
  /** s2s: a written config listens for s2s on port 0; the s2s port is read back (also on restart). */
  s2s?: boolean;
  /** component: wait for the XEP-0114 listener (`component listening on`) and read its port back; the config sets component_ports. */
  component?: boolean;
  /** http: the config sets `http_ports = { 0 }`; wait for the HTTP listener (a loaded module must serve a route) and read its port back. */
  http?: boolean;
  /** Milliseconds to wait for the listening line. */
  timeout?: number;
}

/** Write the child's config file into `dir` and return its path. */
export async function writeChildConfig(dir: string, extra = '', more: { hosts?: string; s2s?: boolean; http?: boolean } = {}): Promise<string> {
  const path = join(dir, 'clove.cfg.lua');
  const text = [
    'interfaces = { "127.0.0.1" }',
    'c2s_ports = { 0 }',
    'run_as_root = true', // CI and these machines run tests as root
    more.s2s ? 's2s_ports = { 0 }' : 's2s_ports = { }',
    more.http ? 'http_ports = { 0 }' : '',
    `data_path = ${JSON.stringify(join(dir, 'data'))}`,
    `certificates = ${JSON.stringify(CERT_DIR)}`,
    'storage = "file"',
    'clove_bcrypt_cost = 4',
    'log = "info"',
    extra,
    more.hosts ?? 'VirtualHost "localhost"',
    '',
  ].join('\n');
  await writeFile(path, text);
  return path;
}

/** Run `clove ARGS` (from dist/) with `input` on stdin; resolves with its exit code and output. */
export function runClove(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLOVE, ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Create accounts with `clove adduser --batch` ("JID PASSWORD" lines), as an operator would. */
export async function addUsers(configPath: string, users: Array<[jid: string, password: string]>): Promise<void> {
  const r = await runClove(['--config', configPath, 'adduser', '--batch'], users.map(([j, p]) => `${j} ${p}\n`).join(''));
  if (r.code !== 0) throw new Error(`clove adduser --batch exited ${r.code}: ${r.stderr}`);
}

/** Start a child server; resolves once it listens. */
export async function startChild(opts: ChildOptions = {}): Promise<ChildServer> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli', 'index.js'))) throw new Error("dist/ is missing: run 'npm run build' first");
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'clove-child-')));
  const configPath = existsSync(join(dir, 'clove.cfg.lua')) && opts.extra === undefined && opts.hosts === undefined
    ? join(dir, 'clove.cfg.lua')
    : await writeChildConfig(dir, opts.extra, { ...(opts.hosts !== undefined ? { hosts: opts.hosts } : {}), ...(opts.s2s ? { s2s: true } : {}), ...(opts.http ? { http: true } : {}) });
  const child: ChildProcess = spawn(process.execPath, [CLOVE, 'start', '--config', configPath], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the clove child');
  let stderr = '';
  const lines: LogLine[] = [];
  const lineWatchers = new Set<(line: LogLine) => void>();
  const exited = new Promise<ChildExit>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  let s2sPort = 0;
  let componentPort = 0;
  let httpPort = 0;
  const port = await new Promise<number>((res, rej) => {
    let buf = '';
    let c2sPort = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`clove child did not report its ${c2sPort ? 's2s' : 'c2s'} port within ${opts.timeout ?? 20000} ms; stderr:\n${stderr}`));
    }, opts.timeout ?? 20000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      buf += d.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let parsed: LogLine;
        try {
          parsed = JSON.parse(line) as LogLine;
        } catch {
          continue; // not a pino line (e.g. a crash trace); kept in stderr
        }
        if (typeof parsed !== 'object' || parsed === null) continue;
        lines.push(parsed);
        for (const w of [...lineWatchers]) w(parsed);
        const msg: unknown = parsed.msg;
        const m = typeof msg === 'string' ? /^(c2s|s2s|component|http) listening on 127\.0\.0\.1:(\d+)$/.exec(msg) : null;
        if (m?.[1] === 'c2s' && !c2sPort) c2sPort = Number(m[2]);
        if (m?.[1] === 's2s' && !s2sPort) s2sPort = Number(m[2]);
        if (m?.[1] === 'component' && !componentPort) componentPort = Number(m[2]);
        if (m?.[1] === 'http' && !httpPort) httpPort = Number(m[2]);
        if (c2sPort && (s2sPort || !opts.s2s) && (componentPort || !opts.component) && (httpPort || !opts.http)) {
          clearTimeout(timer);
          res(c2sPort);
        }
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      rej(new Error(`clove child exited (${e.code ?? e.signal}) before listening; stderr:\n${stderr}`));
    });
  });
  return {
    pid,
    port,
    s2sPort,
    componentPort,
    httpPort,
    dir,
    configPath,
    dataPath: join(dir, 'data'),
    stderr: () => stderr,
    logs: () => [...lines],
    waitForLog(test: (line: LogLine) => boolean, timeoutMs = 10_000) {
      const found = lines.find(test);
      if (found) return Promise.resolve(found);
      return new Promise<LogLine>((res, rej) => {
        const timer = setTimeout(() => {
          lineWatchers.delete(watch);
          rej(new Error(`no matching log line within ${timeoutMs} ms; stderr (tail):\n${stderr.slice(-3000)}`));
        }, timeoutMs);
        const watch = (line: LogLine): void => {
          if (!test(line)) return;
          clearTimeout(timer);
          lineWatchers.delete(watch);
          res(line);
        };
        lineWatchers.add(watch);
      });
    },
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, signal);
      return exited;
    },
    async rss() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
      if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
      return Number(m[1]) * 1024;
    },
  };
}

/** Remove a child's directory (after it has exited). */
export async function removeChildDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
