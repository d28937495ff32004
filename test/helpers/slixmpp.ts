// slixmpp (Debian's python3-slixmpp) as an independent client: runs test/e2e/py/driver.py, sends it
// JSON-line commands and parses its JSON-line replies and events. The child is killed by PID when
// it overruns its time limit, and always awaited.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: ltx ships no type declarations; XmlElement says what is used.
import { parse } from 'ltx';
import type { TestServer } from './server.js';
import type { XmlElement } from './xmppjs.js';

/** slixmpp is importable only by Debian's interpreter, not by the pyenv python3 first on PATH. */
export const PYTHON = '/usr/bin/python3';
export const DRIVER = fileURLToPath(new URL('../e2e/py/driver.py', import.meta.url));

export interface PythonOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Hard limit for the whole process in ms; it is killed by PID (SIGKILL) after this. */
  timeoutMs?: number;
}

/** One JSON line from the child. */
export type Line = Record<string, unknown> & { event?: string; reply?: number; ok?: boolean; client?: string; xml?: string };

/** Parse one XML element as the driver reports it. */
export const parseXml = (text: string): XmlElement => parse(text) as XmlElement;

/** A running python script speaking JSON lines on stdin/stdout. */
export class PythonProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | string | null>;
  readonly lines: Line[] = [];
  stderr = '';
  private readonly listeners = new Set<(line: Line) => void>();
  private readonly killTimer: NodeJS.Timeout;
  killedByTimeout = false;

  constructor(readonly script: string, opts: PythonOptions = {}) {
    this.child = spawn(PYTHON, ['-u', script, ...(opts.args ?? [])], {
      env: { ...process.env, ...opts.env, PYTHONUNBUFFERED: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(code ?? signal)));
    this.child.stderr.on('data', (d: Buffer) => {
      // Keep the tail only: debug logging can be large.
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    createInterface({ input: this.child.stdout }).on('line', (text) => {
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        line = { event: 'noise', text };
      }
      this.lines.push(line);
      for (const l of [...this.listeners]) l(line);
    });
    this.child.stdin.on('error', () => {
      // The child died; the pending requests time out with its stderr.
    });
    this.killTimer = setTimeout(() => {
      this.killedByTimeout = true;
      this.kill();
    }, opts.timeoutMs ?? 55_000);
    this.killTimer.unref();
  }

  /** Write one JSON line to the child's stdin. */
  write(obj: unknown): void {
    this.child.stdin.write(JSON.stringify(obj) + '\n');
  }

  /** Wait for a line matching `pred` (lines already received count), or fail after `timeoutMs`. */
  waitLine(pred: (line: Line) => boolean, what: string, timeoutMs: number): Promise<Line> {
    const found = this.lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const on = (line: Line): void => {
        if (!pred(line)) return;
        done();
        resolve(line);
      };
      const onExit = (): void => {
        done();
        reject(new Error(`python exited while waiting for ${what}; stderr:\n${this.stderr.slice(-3000)}`));
      };
      const t = setTimeout(() => {
        done();
        reject(new Error(`no ${what} from python within ${timeoutMs} ms; stderr:\n${this.stderr.slice(-3000)}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        this.listeners.delete(on);
        this.child.off('exit', onExit);
      };
      this.listeners.add(on);
      this.child.once('exit', onExit);
    });
  }

  /** SIGKILL the child by its PID (if still running) and wait for it to exit. */
  async kill(): Promise<void> {
    clearTimeout(this.killTimer);
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await this.exited;
  }

  /** Close stdin and wait up to `graceMs` for a clean exit, then kill by PID. */
  async finish(graceMs = 8000): Promise<void> {
    this.child.stdin.end();
    let t: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => { t = setTimeout(() => resolve(true), graceMs); }),
    ]);
    clearTimeout(t);
    if (timedOut) await this.kill();
    clearTimeout(this.killTimer);
  }
}

/** A failed driver command: `info.kind` is 'sasl', 'iq-error', 'disconnected', 'timeout', … */
export class SlixError extends Error {
  constructor(readonly info: Record<string, unknown>) {
    super(`slixmpp: ${JSON.stringify(info).slice(0, 2000)}`);
  }
}

/** The stanza error condition a driver command failed with; throws if it succeeded or failed otherwise. */
export async function slixCondition(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SlixError) return String(err.info.condition);
    throw err;
  }
  throw new Error('expected an error');
}

/** What `connect` reports. */
export interface SlixSession {
  jid: string;
  /** Every `<stream:features/>` received, as XML text. */
  features: string[];
  mechanism: string;
  tls: { fingerprint: string; version?: string; cipher?: string } | null;
}

/** Drives any number of named slixmpp clients in one python process. */
export class Slixmpp {
  private nextId = 0;
  private readonly consumed = new Set<Line>();

  private constructor(readonly proc: PythonProcess) {}

  /** Start the driver for this test server and wait until it is ready. */
  static async start(ts: Pick<TestServer, 'port'>, opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Slixmpp> {
    const proc = new PythonProcess(DRIVER, { args: ['--host', '127.0.0.1', '--port', String(ts.port)], env: opts.env, timeoutMs: opts.timeoutMs });
    try {
      await proc.waitLine((l) => l.event === 'ready', 'ready line', 15_000);
    } catch (err) {
      await proc.kill();
      throw err;
    }
    return new Slixmpp(proc);
  }

  /** Run a driver command; resolves with its result, rejects with SlixError when it failed. */
  async call<T = unknown>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<T> {
    const id = ++this.nextId;
    this.proc.write({ id, cmd, ...args });
    const line = await this.proc.waitLine((l) => l.reply === id, `reply to ${cmd}`, timeoutMs);
    if (!line.ok) throw new SlixError(line.error as Record<string, unknown>);
    return line.result as T;
  }

  /** Connect a named client; `jid` is the bare JID to log in as. */
  connect(name: string, jid: string, password: string, opts: { mech?: string; resource?: string } = {}): Promise<SlixSession> {
    return this.call<SlixSession>('connect', { name, jid, password, ...opts });
  }

  /** Send an iq given as XML; returns the reply (result or error) parsed. */
  async iq(name: string, xml: string): Promise<XmlElement> {
    const r = await this.call<{ xml: string }>('iq', { name, xml });
    return parseXml(r.xml);
  }

  /** Wait for (and consume) a stanza received by client `name` that matches `pred`. */
  async waitFor(name: string, pred: (el: XmlElement) => boolean, what: string, timeoutMs = 5000): Promise<XmlElement> {
    let hit: XmlElement | undefined;
    const line = await this.proc.waitLine((l) => {
      if (this.consumed.has(l) || l.event !== 'in' || l.client !== name || typeof l.xml !== 'string') return false;
      const el = parseXml(l.xml);
      if (!pred(el)) return false;
      hit = el;
      return true;
    }, `${what} (slixmpp ${name})`, timeoutMs);
    this.consumed.add(line);
    return hit as XmlElement;
  }

  /** Disconnect every client, end the process and await it; kills it by PID if it hangs. */
  async stop(): Promise<void> {
    if (this.proc.child.exitCode === null && this.proc.child.signalCode === null) {
      try {
        await this.call('quit', {}, 8000);
      } catch {
        // Killed below.
      }
    }
    await this.proc.finish();
  }
}
