// Issue 9, attack 7: an inbound s2s stream had no idle timeout once verified, so a peer could
// keep any number of verified streams open for ever. Two Clove servers with b32 names federate
// through the SOCKS5 test proxy: A keeps outgoing streams 600 s, B closes idle streams after 1 s
// (s2s_idle_timeout), which for B's *incoming* streams means 2 s (twice the value: the sending
// side normally closes first). After one message A → B, B ends A's stream once idle, A sees the
// end of the stream (its socket through the proxy closes), and the next message opens a new one.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Socket } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Wire, match } from '../helpers/wire.js';
import { SocksProxy } from '../helpers/socks-proxy.js';
import { createConnector } from '../../src/net/connect.js';
import type { Connector } from '../../src/net/connector.js';

const A = 'sidla'.padEnd(52, 'a') + '.b32.i2p';
const B = 'sidlb'.padEnd(52, 'b') + '.b32.i2p';
const B_IDLE_S = 1;

let proxy: SocksProxy;
let a: TestServer;
let b: TestServer;
/** A's sockets through the proxy that are still open. */
const aOpen = new Set<Socket>();
let alice: Wire;
let bob: Wire;

beforeAll(async () => {
  proxy = await SocksProxy.start();
  const inner = createConnector();
  const connector: Connector = {
    async connect(route, opts) {
      const s = await inner.connect(route, opts);
      aOpen.add(s);
      s.once('close', () => aOpen.delete(s));
      return s;
    },
  };
  const common = `darknet_only = true\ndarknet_socks5_host = "127.0.0.1"\ndarknet_socks5_port = ${proxy.port}\nmodules_enabled = { "darknet" }`;
  a = await startTestServer({ s2s: true, extra: `${common}\ns2s_idle_timeout = 600`, hosts: `VirtualHost "${A}"`, connector });
  b = await startTestServer({ s2s: true, extra: `${common}\ns2s_idle_timeout = ${B_IDLE_S}`, hosts: `VirtualHost "${B}"` });
  proxy.map(A, a.server.s2sPort).map(B, b.server.s2sPort);
  await a.addUser('alice', 'alice-pw');
  await b.addUser('bob', 'bob-pw');
  alice = await Wire.login({ port: a.port, domain: A, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 10_000 });
  bob = await Wire.login({ port: b.port, domain: B, username: 'bob', password: 'bob-pw', resource: 'r', timeoutMs: 10_000 });
  bob.send('<presence/>');
});

afterAll(async () => {
  await Promise.all([alice, bob].map((c) => c?.close()));
  await Promise.all([a, b].map((srv) => srv?.stop()));
  await proxy?.close();
});

const toBob = async (id: string): Promise<void> => {
  alice.send(`<message to='bob@${B}/r' type='chat' id='${id}'><body>${id}</body></message>`);
  await bob.waitFor(match('message', { id }), 10_000);
};

describe('inbound s2s idle timeout', () => {
  it('B closes a verified inbound stream after 2 × s2s_idle_timeout without traffic', async () => {
    await toBob('one');
    expect(aOpen.size).toBe(1);
    const t0 = Date.now();
    await vi.waitFor(() => { if (aOpen.size !== 0) throw new Error('A’s stream to B is still open'); }, { timeout: 2 * B_IDLE_S * 1000 + 4000, interval: 25 });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(2 * B_IDLE_S * 1000 - 300);
    // The next message opens a new stream and arrives.
    await toBob('two');
    expect(proxy.requested.filter((n) => n === B)).toHaveLength(2);
  }, 30_000);
});
