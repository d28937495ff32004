// Issue 9, attack 5: dialback amplification. One unauthenticated inbound s2s stream asks A to
// verify 300 domains (`<db:result/>` each); every request could make A open a connection to the
// claimed domain's server. At most 5 outbound connection attempts may follow:
//  - darknet_only on (A is a `clove start` child): counted at the test SOCKS5 proxy;
//  - darknet_only off (A in-process, Node's dns and net instrumented by the leak guard, which
//    records and blocks every DNS query and outside TCP connection): half the domains are
//    .b32.i2p (counted at the proxy), half `.invalid` names that would resolve nowhere (any
//    DNS query or direct connection for them is an attempt).
// And a stream claiming one of A's own domains is refused without any connection; with
// darknet_only on, dialback for clearnet names is answered with errors and no DNS at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SocksProxy, darknetConfig } from '../helpers/socks-proxy.js';
import * as guard from '../helpers/leak-guard.js';
import { Wire } from '../helpers/wire.js';
import { openS2S } from '../helpers/s2s-peer.js';

const b32 = (tag: string): string => `${tag}${'a'.repeat(52 - tag.length)}.b32.i2p`;
const A = b32('amplified');
const ATTEMPTS_MAX = 5;

/** An inbound s2s stream to `to` on `port` claiming `from`, through STARTTLS to the features. */
async function inbound(port: number, from: string, to: string): Promise<Wire> {
  const w = await Wire.connect(port);
  await openS2S(w, from, to);
  return w;
}

/** 300 dialback requests in one write, each for another claimed domain. */
const flood = (domains: string[]): string => domains.map((d) => `<db:result from='${d}' to='${A}'>${'0'.repeat(64)}</db:result>`).join('');

/** Wait `ms`, long enough for A to act on every request it accepted. */
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('attack 5: dialback amplification', () => {
  let proxy: SocksProxy;
  beforeAll(async () => { proxy = await SocksProxy.start(); });
  afterAll(async () => { await proxy?.close(); });

  describe('darknet_only on (child process, attempts counted at the SOCKS5 proxy)', () => {
    let a: ChildServer;
    beforeAll(async () => {
      a = await startChild({ s2s: true, extra: `${darknetConfig(proxy.port)}\ns2s_connect_timeout = 2`, hosts: `VirtualHost "${A}"` });
    }, 30_000);
    afterAll(async () => {
      if (a) {
        await a.kill('SIGTERM');
        await removeChildDir(a.dir);
      }
    });

    it('300 <db:result/> for 300 domains on one stream: at most 5 outbound attempts', async () => {
      const domains = Array.from({ length: 300 }, (_, i) => b32(`flood${i}x`));
      const w = await inbound(a.s2sPort, b32('attacker'), A);
      const before = proxy.requested.length;
      await w.write(flood(domains)).catch(() => {});
      await settle(3000);
      const asked = proxy.requested.slice(before).filter((n) => domains.includes(n));
      console.info(`dialback amplification (darknet_only on): ${asked.length} outbound attempts for 300 requests`);
      expect(asked.length).toBeLessThanOrEqual(ATTEMPTS_MAX);
      expect(w.text).toMatch(/<stream:error>/);
      w.destroy();
    }, 20_000);

    it('60 streams with 5 <db:result/> each: still at most 5 outbound attempts (global budget)', async () => {
      const before = proxy.requested.length;
      const all: string[] = [];
      const wires = await Promise.all(Array.from({ length: 60 }, async (_, s) => {
        const domains = Array.from({ length: 5 }, (_, i) => b32(`spread${s}x${i}y`));
        all.push(...domains);
        const w = await inbound(a.s2sPort, b32(`attacker${s}x`), A);
        await w.write(flood(domains)).catch(() => {});
        return w;
      }));
      await settle(3000);
      const asked = proxy.requested.slice(before).filter((n) => all.includes(n));
      console.info(`dialback amplification (darknet_only on, 60 streams): ${asked.length} outbound attempts for 300 requests`);
      expect(asked.length).toBeLessThanOrEqual(ATTEMPTS_MAX);
      for (const w of wires) w.destroy();
    }, 30_000);

    it('a stream claiming one of our own domains is refused and nothing is dialed', async () => {
      const w = await inbound(a.s2sPort, A, A);
      const before = proxy.requested.length;
      await w.write(`<db:result from='${A}' to='${A}'>${'0'.repeat(64)}</db:result>`);
      const { condition } = await w.streamError(5000);
      expect(condition).toBe('invalid-from');
      await settle(500);
      expect(proxy.requested.slice(before)).not.toContain(A);
      w.destroy();
    }, 20_000);
  });

  describe('darknet_only on, clearnet names (in-process, DNS and direct TCP recorded by the leak guard)', () => {
    let a: TestServer;
    beforeAll(async () => {
      a = await startTestServer({ s2s: true, extra: `${darknetConfig(proxy.port)}\ns2s_connect_timeout = 2`, hosts: `VirtualHost "${A}"` });
    }, 30_000);
    afterAll(async () => {
      guard.stop();
      await a?.stop();
    });

    it('dialback for names routing refuses: no DNS query, no connection, each answered with an error', async () => {
      const domains = Array.from({ length: 5 }, (_, i) => `refused${i}.amplify.invalid`);
      guard.start([{ port: proxy.port }, { port: a.server.s2sPort }, { port: a.port }]);
      const w = await inbound(a.server.s2sPort, b32('attacker'), A);
      const before = proxy.requested.length;
      await w.write(flood(domains));
      await w.until(() => w.received.filter((e) => e.name === 'db:result' && e.attrs.type === 'error').length === domains.length || undefined, 'five dialback errors');
      expect(guard.stop()).toEqual([]);
      expect(proxy.requested.slice(before)).toEqual([]);
      w.destroy();
    }, 20_000);
  });

  describe('darknet_only off (in-process, DNS and direct TCP recorded by the leak guard)', () => {
    let a: TestServer;
    beforeAll(async () => {
      a = await startTestServer({ s2s: true, extra: `${darknetConfig(proxy.port).replace('darknet_only = true', 'darknet_only = false')}\ns2s_connect_timeout = 2`, hosts: `VirtualHost "${A}"` });
    }, 30_000);
    afterAll(async () => {
      guard.stop();
      await a?.stop();
    });

    it('300 <db:result/> (.b32.i2p and .invalid) on one stream: at most 5 attempts, proxy and direct together', async () => {
      const domains = Array.from({ length: 300 }, (_, i) => (i % 2 ? b32(`mixed${i}x`) : `flood${i}.amplify.invalid`));
      guard.start([{ port: proxy.port }, { port: a.server.s2sPort }, { port: a.port }]);
      const w = await inbound(a.server.s2sPort, b32('attacker'), A);
      const before = proxy.requested.length;
      await w.write(flood(domains)).catch(() => {});
      await settle(3000);
      const violations = guard.stop();
      const viaProxy = new Set(proxy.requested.slice(before).filter((n) => domains.includes(n)));
      // A direct attempt starts with DNS (SRV, then A/AAAA) for the claimed domain; count domains.
      const direct = new Set(violations.map((v) => domains.find((d) => v.target.includes(d))).filter((d): d is string => d !== undefined));
      console.info(`dialback amplification (darknet_only off): ${viaProxy.size} via the proxy, ${direct.size} direct (${violations.length} DNS/TCP calls blocked)`);
      expect(viaProxy.size + direct.size).toBeLessThanOrEqual(ATTEMPTS_MAX);
      // Nothing but the claimed domains' look-ups: no connection to anything else.
      expect(violations.filter((v) => v.kind === 'tcp')).toEqual([]);
      expect(w.text).toMatch(/<stream:error>/);
      w.destroy();
    }, 20_000);
  });
});
