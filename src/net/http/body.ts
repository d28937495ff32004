// Reading a whole request body for a route that does not stream: bounded in bytes and in time.
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../../core/http.js';

/** The body of `req`, at most `limit` bytes (413 beyond, before reading when Content-Length says so) within `timeoutMs` (408). */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new HttpError(413, `the body may be at most ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (err: HttpError): void => {
      cleanup();
      req.pause();
      reject(err);
    };
    const timer = setTimeout(() => fail(new HttpError(408, 'the request took too long')), timeoutMs);
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) return fail(new HttpError(413, `the body may be at most ${limit} bytes`));
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onAbort = (): void => fail(new HttpError(400, 'the request ended early'));
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('aborted', onAbort).off('error', onAbort);
    };
    req.on('data', onData).once('end', onEnd).once('aborted', onAbort).once('error', onAbort);
  });
}
