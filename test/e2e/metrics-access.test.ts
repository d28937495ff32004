// Who may read /metrics and /status. Behind i2pd every visitor comes from loopback, so the
// address allow list is not enough: requests that carry i2pd's X-I2P-Dest* headers are refused,
// /status asks for an admin's login (HTTP Basic, paced as SASL), and nothing is cached.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.js';
import { startTestServer, TEST_CERT_DIR, type TestServer } from '../helpers/server.js';
import type { HttpAnswer } from '../helpers/http.js';
import { getFrom } from '../helpers/metrics.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({
    http: true,
    extra: [
      'modules_enabled = { "roster"; "http_openmetrics"; "http_status" }',
      // Only 127.0.0.2 may scrape: the test connects from it and from 127.0.0.1.
      'openmetrics_allow_ips = { "127.0.0.2" }',
      'admins = { "admin@localhost" }',
      'auth_failure_delay = 0.2',
    ].join('\n'),
  });
  await s.addUser('admin', 'admin password');
  await s.addUser('bob', 'bob password');
}, 30_000);

afterAll(async () => {
  await s?.stop();
});

const get = (path: string, headers: Record<string, string> = {}, from = '127.0.0.1'): Promise<HttpAnswer> => getFrom(s.httpPort, path, headers, from);
const basic = (user: string, password: string): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const I2P = { 'X-I2P-DestB32': 'visitor0000000000000000000000000000000000000000000.b32.i2p', 'X-I2P-DestHash': 'abc', 'X-I2P-DestB64': 'abc' };

describe('/metrics access', () => {
  it('serves an allowed address, and refuses other addresses and anything that came through I2P', async () => {
    const ok = await get('/metrics', {}, '127.0.0.2');
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(ok.body.toString()).toContain('clove_uptime_seconds');
    expect((await get('/metrics', {}, '127.0.0.1')).status).toBe(403);
    for (const [name, v] of Object.entries(I2P)) {
      const r = await get('/metrics', { [name]: v }, '127.0.0.2');
      expect(r.status, name).toBe(403);
      expect(r.body.toString()).not.toContain('clove_');
    }
  });
});

describe('/status access', () => {
  it('asks for a login, refuses a wrong password and a user who is not an admin alike, counts both', async () => {
    const none = await get('/status');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="Clove status", charset="UTF-8"');
    const t0 = Date.now();
    const wrong = await get('/status', basic('admin@localhost', 'not it'));
    expect(wrong.status).toBe(401);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190); // auth_failure_delay, as for SASL
    const notAdmin = await get('/status', basic('bob@localhost', 'bob password'));
    expect(notAdmin.status).toBe(401);
    expect(notAdmin.body.toString()).toBe(wrong.body.toString());
    const metrics = (await get('/metrics', {}, '127.0.0.2')).body.toString();
    expect(metrics).toContain('clove_auth_failures_total{mechanism="HTTP-Basic",condition="not-authorized"} 2');
    expect(metrics).not.toContain('bob');
  });

  it('shows the page to an admin, never cached, with its own script and style only', async () => {
    const r = await get('/status', basic('admin@localhost', 'admin password'));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['content-security-policy']).toContain("default-src 'none'");
    const html = r.body.toString();
    expect(html).toContain('id="sessions"');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing fetched from elsewhere
    const js = await get('/status/status.js', basic('admin@localhost', 'admin password'));
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await get('/status/panel', basic('admin@localhost', 'admin password'))).body.toString()).toContain('<svg');
  });

  it('refuses an admin who came through I2P (http_status_allow_i2p is off)', async () => {
    const r = await get('/status', { ...basic('admin@localhost', 'admin password'), 'X-I2P-DestB32': I2P['X-I2P-DestB32'] });
    expect(r.status).toBe(403);
    expect(r.body.toString()).not.toContain('sessions');
  });
});

describe('http_status_allow_i2p = true', () => {
  it('lets an admin in through I2P, still behind the login', async () => {
    const srv = await startTestServer({ http: true, extra: ['modules_enabled = { "roster"; "http_status" }', 'http_status_allow_i2p = true', 'admins = { "admin@localhost" }'].join('\n') });
    try {
      await srv.addUser('admin', 'admin password');
      const via = { 'X-I2P-DestB32': I2P['X-I2P-DestB32'] };
      expect((await getFrom(srv.httpPort, '/status', via)).status).toBe(401);
      expect((await getFrom(srv.httpPort, '/status', { ...via, ...basic('admin@localhost', 'admin password') })).status).toBe(200);
    } finally {
      await srv.stop();
    }
  });
});

describe('off unless loaded', () => {
  it('serves no /metrics without http_openmetrics, and opens no HTTP port for neither module', async () => {
    const only = await startTestServer({ http: true, extra: 'modules_enabled = { "roster"; "http_status" }' });
    const bare = await startTestServer({ http: true, extra: 'modules_enabled = { "roster" }' });
    try {
      expect((await getFrom(only.httpPort, '/metrics')).status).toBe(404);
      expect(bare.httpPort).toBe(0);
    } finally {
      await only.stop();
      await bare.stop();
    }
  });
});

describe('a reload', () => {
  it('serves /metrics once http_openmetrics is loaded, and stops when it is unloaded', async () => {
    const srv = await startTestServer({ http: true, extra: 'modules_enabled = { "roster" }' });
    const config = (modules: string): ReturnType<typeof parseConfig> => parseConfig([
      'interfaces = { "127.0.0.1" }', 'c2s_ports = { 0 }', 's2s_ports = { }', 'http_ports = { 0 }',
      `data_path = ${JSON.stringify(join(srv.dir, 'data'))}`, `certificates = ${JSON.stringify(TEST_CERT_DIR)}`,
      `modules_enabled = { ${modules} }`, 'VirtualHost "localhost"',
    ].join('\n'), join(srv.dir, 'test.cfg.lua'));
    const status = async (): Promise<number> => (await getFrom(srv.httpPort, '/metrics')).status;
    try {
      expect(srv.httpPort).toBe(0);
      expect((await srv.server.apply(config('"roster"; "http_openmetrics"'))).errors).toEqual([]);
      expect(srv.httpPort).toBeGreaterThan(0);
      expect(await status()).toBe(200);
      await srv.server.apply(config('"roster"'));
      expect(await status()).toBe(404);
    } finally {
      await srv.stop();
    }
  });
});
