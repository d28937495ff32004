// A tiny test-only static web server on 127.0.0.1 (port 0): serves one page at `/` and the files
// under one directory at `/dist/…` (converse.js's dist/ for the browser tests), GET only, no
// listing, no path outside the directory.
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { AddressInfo } from 'node:net';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.woff': 'font/woff', '.ttf': 'font/ttf',
  '.mp3': 'audio/mpeg', '.ogg': 'audio/ogg', '.map': 'application/json', '.html': 'text/html; charset=utf-8',
};

export interface StaticServer {
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** Serve `html` at `/` from now on. */
  setPage(html: string): void;
  close(): Promise<void>;
}

/** Serve `dir` at /dist/ and a page at /. */
export async function startStaticServer(dir: string): Promise<StaticServer> {
  let page = '<!doctype html><title>empty</title>';
  const root = normalize(dir) + sep;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] as string);
    const answer = (status: number, body: string | Buffer, type = 'text/plain'): void => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET') return answer(405, 'GET only');
    if (path === '/') return answer(200, page, TYPES['.html']);
    if (!path.startsWith('/dist/')) return answer(404, 'not found');
    const file = normalize(join(root, path.slice('/dist/'.length)));
    if (!file.startsWith(root)) return answer(403, 'outside');
    readFile(file).then(
      (data) => answer(200, data, TYPES[extname(file)] ?? 'application/octet-stream'),
      () => answer(404, 'not found'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    setPage: (html) => { page = html; },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
