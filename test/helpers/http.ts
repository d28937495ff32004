// Plain HTTP/1.1 clients for the HTTP service's tests: one over node:http (a well-formed
// request), one that writes raw bytes and reads what comes back until the server closes
// (malformed requests, limits, slow clients).
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface HttpAnswer { status: number; headers: IncomingHttpHeaders; body: Buffer }

/** One request to 127.0.0.1:`port` on a fresh connection; `host` is the Host header. */
export function httpCall(port: number, method: string, path: string, opts: { host?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent: false, setHost: false, headers: { Host: opts.host ?? 'localhost', ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface RawExchange {
  /** Everything the server sent. */
  text: string;
  /** Milliseconds from connecting to the server's close. */
  ms: number;
  /** Whether the server closed the connection (rather than our timeout). */
  closed: boolean;
}

/**
 * Connect, write `chunks` (a string, or several written `gapMs` apart: a slow client), and read
 * until the server closes or `timeoutMs` passes.
 */
export function rawHttp(port: number, chunks: string | readonly string[], opts: { gapMs?: number; timeoutMs?: number } = {}): Promise<RawExchange> {
  const parts = typeof chunks === 'string' ? [chunks] : chunks;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let text = '';
    let done = false;
    const socket: Socket = connect(port, '127.0.0.1');
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(writer);
      socket.destroy();
      resolve({ text, ms: Date.now() - started, closed });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 10_000);
    let next = 0;
    const writeNext = (): void => {
      if (next < parts.length && socket.writable) socket.write(parts[next++] as string);
    };
    let writer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      writeNext();
      if (parts.length > 1) writer = setInterval(writeNext, opts.gapMs ?? 100);
    });
    socket.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    socket.on('close', () => finish(true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the answer still counts as the server closing.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return finish(true);
      if (!done) reject(err);
    });
  });
}
