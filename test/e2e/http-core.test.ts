// The HTTP service (src/net/http/) on an in-process server over real sockets: a module's route
// answers, the Host header picks the host (its domain, its http_external_url's name, else
// http_default_host), unknown paths and methods are refused, the limits hold against bad and
// slow clients (431, 408, 413, 503, 400) and the server keeps serving; an Upgrade goes to the
// handler registered for its path. Nothing identifies the software.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineModule } from '../../src/core/modules.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { httpCall, rawHttp } from '../helpers/http.js';
import { connect, type Socket } from 'node:net';

const httpTest = defineModule({
  name: 'http_test',
  setup(ctx) {
    ctx.provide('http-route', {
      path: '/hello',
      methods: ['GET', 'HEAD'],
      handle(req, res) {
        res.setHeader('Content-Type', 'text/plain');
        res.end(`hello from ${req.host} rest=${req.rest} q=${req.query.get('q') ?? ''}`);
      },
    });
    ctx.provide('http-route', { path: '/hello/deeper', methods: ['GET'], handle: (req, res) => void res.end(`deeper ${req.rest}`) });
    ctx.provide('http-route', { path: '/echo', methods: ['POST'], maxBody: 1000, handle: (req, res) => void res.end(`got ${req.body?.length ?? -1} bytes`) });
    ctx.provide('http-route', { path: '/boom', methods: ['GET'], handle: () => { throw new Error('secret internals'); } });
  },
});

let t: TestServer;
const HOSTS = [
  'VirtualHost "a.example"',
  'VirtualHost "b.example"',
  '  http_external_url = "http://bbbbbbbb.b32.i2p/"',
  'VirtualHost "c.example"',
  '  modules_disabled = { "http_test" }',
].join('\n');

beforeAll(async () => {
  t = await startTestServer({
    http: true,
    hosts: HOSTS,
    extraModules: [httpTest],
    extra: [
      'modules_enabled = { "http_test" }',
      'http_default_host = "b.example"',
      'http_max_header_size = 1024',
      'http_headers_timeout = 1',
      'http_request_timeout = 2',
      'http_max_connections = 6',
    ].join('\n'),
  });
}, 30_000);
afterAll(async () => { await t?.stop(); });

/** Still serving: a plain GET answers. */
async function stillServing(): Promise<void> {
  const r = await httpCall(t.httpPort, 'GET', '/hello', { host: 'a.example' });
  expect(r.status).toBe(200);
}

describe('the HTTP service', () => {
  it('listens once a module offers a route, and a route answers without naming the software', async () => {
    expect(t.httpPort).toBeGreaterThan(0);
    const r = await httpCall(t.httpPort, 'GET', '/hello/x/y?q=1', { host: 'a.example' });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('hello from a.example rest=x/y q=1');
    expect(r.headers.server).toBeUndefined();
    expect(r.headers.date).toBeUndefined();
    expect(r.headers['x-powered-by']).toBeUndefined();
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect((await httpCall(t.httpPort, 'GET', '/hello/deeper/z', { host: 'a.example' })).body.toString()).toBe('deeper z');
  });

  it('picks the host by the Host header: its domain, its http_external_url, else http_default_host', async () => {
    const from = async (host: string): Promise<string> => (await httpCall(t.httpPort, 'GET', '/hello', { host })).body.toString();
    expect(await from('a.example')).toBe('hello from a.example rest= q=');
    expect(await from('B.Example:5280')).toBe('hello from b.example rest= q=');
    expect(await from('bbbbbbbb.b32.i2p')).toBe('hello from b.example rest= q=');
    expect(await from('127.0.0.1:5280')).toBe('hello from b.example rest= q=');
    // c.example does not load the module: its own Host finds no route.
    expect((await httpCall(t.httpPort, 'GET', '/hello', { host: 'c.example' })).status).toBe(404);
  });

  it('refuses unknown paths (404), other methods (405 with Allow) and hides a route failure (500)', async () => {
    const nf = await httpCall(t.httpPort, 'GET', '/nothing-here', { host: 'a.example' });
    expect(nf.status).toBe(404);
    expect(nf.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect((await httpCall(t.httpPort, 'GET', '/', { host: 'a.example' })).status).toBe(404);
    expect((await httpCall(t.httpPort, 'GET', '/hellothere', { host: 'a.example' })).status).toBe(404);
    const na = await httpCall(t.httpPort, 'DELETE', '/hello', { host: 'a.example' });
    expect(na.status).toBe(405);
    expect(na.headers.allow).toBe('GET, HEAD');
    const boom = await httpCall(t.httpPort, 'GET', '/boom', { host: 'a.example' });
    expect(boom.status).toBe(500);
    expect(boom.body.toString()).not.toContain('secret');
  });

  it('refuses dot segments, encoded or not, and other ambiguous paths with 400', async () => {
    for (const path of ['/hello/../boom', '/hello/%2e%2e/boom', '/hello/%2E%2e', '/hello/./x', '/hello/a%2fb', '/hello/a%5cb', '/hello//x', '/hello/%00', '/hello/%zz']) {
      const r = await rawHttp(t.httpPort, `GET ${path} HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n`);
      expect(r.text.split('\r\n')[0], path).toBe('HTTP/1.1 400 Bad Request');
    }
    const star = await rawHttp(t.httpPort, 'OPTIONS * HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n');
    expect(star.text.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    // absolute-form: the path counts, the Host header still picks the host.
    const abs = await rawHttp(t.httpPort, 'GET http://evil.example/hello HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n');
    expect(abs.text).toContain('hello from a.example');
    await stillServing();
  });

  it('answers malformed requests with 400 and closes', async () => {
    for (const junk of ['NOT HTTP AT ALL\r\n\r\n', 'GET /hello HTTP/1.1\r\n\r\n' /* no Host */, 'GET /hello HTTP/9.9\r\nHost: a\r\n\r\n', 'GET /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03']) {
      const r = await rawHttp(t.httpPort, junk);
      expect(r.closed, JSON.stringify(junk)).toBe(true);
      expect(r.text.split('\r\n')[0], JSON.stringify(junk)).toMatch(/^HTTP\/1\.1 400 /);
    }
    await stillServing();
  });

  it('answers a request head over http_max_header_size with 431', async () => {
    const r = await rawHttp(t.httpPort, `GET /hello HTTP/1.1\r\nHost: a.example\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`);
    expect(r.text.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(r.closed).toBe(true);
    await stillServing();
  });

  it('closes a slow-loris client (a head trickled in) with 408 after http_headers_timeout', async () => {
    const lines = ['GET /hello HTTP/1.1\r\n', 'Host: a.example\r\n', ...Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: 1\r\n`)];
    const r = await rawHttp(t.httpPort, lines, { gapMs: 200, timeoutMs: 8000 });
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(4000); // 1 s timeout, checked every 0.5 s; the trickle would take 8 s
    expect(r.text.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    await stillServing();
  });

  it('refuses a body over the route limit with 413, by Content-Length or while it streams', async () => {
    expect((await httpCall(t.httpPort, 'POST', '/echo', { host: 'a.example', body: 'x'.repeat(1000) })).body.toString()).toBe('got 1000 bytes');
    const declared = await rawHttp(t.httpPort, `POST /echo HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5000000\r\n\r\n${'x'.repeat(100)}`);
    expect(declared.text.split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
    expect(declared.closed).toBe(true);
    const chunk = (s: string): string => `${s.length.toString(16)}\r\n${s}\r\n`;
    const chunked = await rawHttp(t.httpPort, `POST /echo HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n${chunk('y'.repeat(800))}${chunk('y'.repeat(800))}`);
    expect(chunked.text.split('\r\n')[0]).toBe('HTTP/1.1 413 Payload Too Large');
    expect(chunked.closed).toBe(true);
    await stillServing();
  });

  it('answers 408 when a body does not arrive within http_request_timeout', async () => {
    const r = await rawHttp(t.httpPort, `POST /echo HTTP/1.1\r\nHost: a.example\r\nContent-Length: 100\r\n\r\nxx`, { timeoutMs: 8000 });
    expect(r.text.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(r.ms).toBeGreaterThanOrEqual(1900);
    expect(r.closed).toBe(true);
  });

  it('answers 503 beyond http_max_connections, and serves again once they close', async () => {
    const held: Socket[] = [];
    try {
      // Keep-alive connections with a request in flight do not time out like silent ones.
      for (let i = 0; i < 6; i++) {
        const s = connect(t.httpPort, '127.0.0.1');
        s.on('error', () => undefined);
        await new Promise<void>((res) => s.once('connect', () => res()));
        held.push(s);
      }
      await new Promise((r) => setTimeout(r, 100));
      const r = await rawHttp(t.httpPort, 'GET /hello HTTP/1.1\r\nHost: a.example\r\n\r\n');
      expect(r.text.split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable');
      expect(r.closed).toBe(true);
    } finally {
      for (const s of held) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    await stillServing();
  });

  it('hands an Upgrade on a registered path to its handler with the picked host; others get 404', async () => {
    const off = t.server.http.upgrade('/upgrade-test', (_req, socket, _head, host) => {
      socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhost=${host}`);
    });
    try {
      const ok = await rawHttp(t.httpPort, 'GET /upgrade-test HTTP/1.1\r\nHost: bbbbbbbb.b32.i2p\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
      expect(ok.text).toMatch(/^HTTP\/1\.1 101 [^]*host=b\.example$/);
      const no = await rawHttp(t.httpPort, 'GET /other HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
      expect(no.text.split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
    } finally {
      off();
    }
  });
});

describe('without a route', () => {
  it('does not listen for HTTP at all', async () => {
    const bare = await startTestServer({ http: true });
    try {
      expect(bare.httpPort).toBe(0);
    } finally {
      await bare.stop();
    }
  });
});
