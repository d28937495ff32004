// Answers the HTTP service writes itself: short plain-text statuses, the same headers on every
// response, and the raw answer for a socket that never became a request (limits, bad syntax).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { httpModule } from '../../lazy-builtins.js';

/** Headers on every response: no sniffing, no referrer, no framing. No `Server:`, no version, no Date (privacy). */
export function baseHeaders(res: ServerResponse): void {
  res.sendDate = false;
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

/**
 * Answer `status` with a one-line plain-text reason. When the request body was not read to the
 * end the connection closes after the answer, rather than Node reading (and discarding) a body
 * that may be gigabytes long.
 */
export function sendStatus(req: IncomingMessage, res: ServerResponse, status: number, reason?: string, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(`${status} ${reason ?? httpModule().STATUS_CODES[status] ?? ''}\n`, 'utf8');
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.setHeader('Cache-Control', 'no-store');
  const bodyLeft = !req.complete && ((req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding'] !== undefined);
  if (bodyLeft) {
    res.setHeader('Connection', 'close');
    res.once('finish', () => closeSoon(req.socket));
  }
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Write a bare status line on a socket no response object owns, and close it. */
export function rawStatus(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${status} ${httpModule().STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  closeSoon(socket);
}

/** End the socket, and destroy it if the peer has not closed within a second (it may still be sending). */
function closeSoon(socket: Duplex): void {
  socket.end();
  setTimeout(() => socket.destroy(), 1000).unref();
}
