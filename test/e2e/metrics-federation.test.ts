// /metrics scraped during federation through the SOCKS5 test proxy (i2pd's stand-in): the
// links show with their routes (socks5 for a b32 name, darknet_map for a mapped domain), their
// queue while a tunnel is being built, their connection times, the stanzas they carried — and
// no JID or remote domain anywhere in the exposition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SocksProxy } from '../helpers/socks-proxy.js';
import { metricValue as value, scrapeMetrics } from '../helpers/metrics.js';
import { Wire, match } from '../helpers/wire.js';

const A = 'a'.repeat(52) + '.b32.i2p';
const B = 'b'.repeat(52) + '.b32.i2p';
/** Served by C, reached by A through its darknet_map entry (the proxy knows C only as CB32). */
const C = 'carol.example';
const CB32 = 'c'.repeat(52) + '.b32.i2p';
/** A b32 name whose tunnel never comes up (the proxy stalls): its stanzas wait in the queue. */
const D = 'd'.repeat(52) + '.b32.i2p';

const darknet = (proxy: SocksProxy, ...more: string[]): string => [
  'darknet_only = true',
  'darknet_socks5_host = "127.0.0.1"',
  `darknet_socks5_port = ${proxy.port}`,
  ...more,
].join('\n');

let proxy: SocksProxy;
let a: TestServer;
let b: TestServer;
let c: TestServer;

beforeAll(async () => {
  proxy = await SocksProxy.start();
  a = await startTestServer({
    s2s: true, http: true, hosts: `VirtualHost "${A}"`,
    extra: darknet(proxy, 'modules_enabled = { "roster"; "darknet"; "http_openmetrics" }', `darknet_map = { ["${C}"] = "${CB32}" }`, 's2s_connect_timeout = 60'),
  });
  b = await startTestServer({ s2s: true, hosts: `VirtualHost "${B}"`, extra: darknet(proxy, 'modules_enabled = { "roster"; "darknet" }') });
  c = await startTestServer({ s2s: true, hosts: `VirtualHost "${C}"`, extra: darknet(proxy, 'modules_enabled = { "roster"; "darknet" }') });
  proxy.map(A, a.server.s2sPort).map(B, b.server.s2sPort).map(CB32, c.server.s2sPort).behave('stall', D);
  await a.addUser('alice', 'alice-pw');
  await b.addUser('bob', 'bob-pw');
  await c.addUser('carol', 'carol-pw');
}, 60_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await c?.stop();
  await proxy?.close();
});

const login = (srv: TestServer, username: string, password: string): Promise<Wire> =>
  Wire.login({ port: srv.port, domain: srv.domain, username, password, resource: 'r', timeoutMs: 10_000 });

const scrape = (): Promise<string> => scrapeMetrics(a.httpPort);

describe('/metrics during federation', () => {
  it('shows each s2s link by route, its queue and connect times, and names no JID or remote domain', async () => {
    const alice = await login(a, 'alice', 'alice-pw');
    const bob = await login(b, 'bob', 'bob-pw');
    const carol = await login(c, 'carol', 'carol-pw');
    bob.send('<presence/>');
    carol.send('<presence/>');

    // Nothing federated yet.
    const before = await scrape();
    expect(value(before, `clove_c2s_sessions{host="${A}"}`)).toBe(1);
    expect(before).not.toContain('clove_s2s_links{');

    alice.send(`<message to='bob@${B}' type='chat' id='m1'><body>hi bob</body></message>`);
    alice.send(`<message to='carol@${C}' type='chat' id='m2'><body>hi carol</body></message>`);
    alice.send(`<message to='dave@${D}' type='chat' id='m3'><body>hi dave</body></message>`);
    await bob.waitFor(match('message', { id: 'm1' }), 20_000);
    await carol.waitFor(match('message', { id: 'm2' }), 20_000);

    const text = await scrape();
    // The links out, by route: B through the proxy by its b32 name, C through its darknet_map entry.
    expect(value(text, 'clove_s2s_links{direction="out",route="socks5",state="ready"}')).toBe(1);
    expect(value(text, 'clove_s2s_links{direction="out",route="darknet_map",state="ready"}')).toBe(1);
    // D's tunnel is still being built: its message waits in the socks5 queue.
    expect(value(text, 'clove_s2s_links{direction="out",route="socks5",state="connecting"}')).toBe(1);
    expect(value(text, 'clove_s2s_queue_stanzas{route="socks5"}')).toBe(1);
    expect(value(text, 'clove_s2s_queue_bytes{route="socks5"}')).toBeGreaterThan(50);
    expect(value(text, 'clove_s2s_queue_stanzas{route="darknet_map"}')).toBe(0);
    // Tunnel and stream times of the two links that came up.
    for (const route of ['socks5', 'darknet_map']) {
      expect(value(text, `clove_s2s_connect_seconds_count{route="${route}",phase="tunnel"}`), route).toBe(1);
      expect(value(text, `clove_s2s_connect_seconds_count{route="${route}",phase="stream"}`), route).toBe(1);
      expect(value(text, `clove_s2s_connect_seconds_bucket{le="+Inf",route="${route}",phase="stream"}`), route).toBe(1);
    }
    // Dialback: B and C dialled A back to verify it, so A has inbound streams too.
    expect(text).toMatch(/clove_s2s_links\{direction="in",route="(socks5|pending)",state="(ready|pending)"\} [1-9]/);
    expect(value(text, 'clove_stanzas_total{direction="out",link="s2s",kind="message"}')).toBe(2);
    expect(value(text, 'clove_stanzas_total{direction="in",link="c2s",kind="message"}')).toBe(3);
    // Privacy: no user and no remote domain is a label value or anywhere else.
    for (const secret of [B, C, CB32, D, 'alice', 'bob', 'carol', 'dave']) expect(text, secret).not.toContain(secret);
    for (const w of [alice, bob, carol]) await w.close();
  }, 60_000);

  it('counts failed logins by mechanism only', async () => {
    const wrong = await Wire.login({ port: a.port, domain: A, username: 'alice', password: 'wrong', resource: 'r', timeoutMs: 10_000 }).then(() => 'in', (e: unknown) => String(e));
    expect(wrong).not.toBe('in');
    const text = await scrape();
    expect(text).toMatch(/clove_auth_failures_total\{mechanism="(SCRAM-SHA-256|SCRAM-SHA-1|PLAIN)",condition="not-authorized"\} 1/);
    expect(text).not.toContain('alice');
  }, 30_000);
});
