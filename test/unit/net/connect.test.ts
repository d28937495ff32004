// The Connector performs routes and nothing else; decideRoute applies policies and darknet_only.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createConnector, decideRoute } from '../../../src/net/connect.js';
import { ConnectError, type Route, type RoutePolicy } from '../../../src/net/connector.js';
import * as guard from '../../helpers/leak-guard.js';

const fake = {} as Socket;

describe('createConnector', () => {
  it('sends socks5 routes to the SOCKS5 client with the name, untouched', async () => {
    const calls: unknown[] = [];
    const c = createConnector({ socks5: async (t, o) => { calls.push([t, o.timeoutMs]); return fake; }, direct: async () => { throw new Error('no'); } });
    const route: Route = { kind: 'socks5', proxyHost: '127.0.0.1', proxyPort: 4447, host: 'a.b32.i2p', port: 5269, reason: 'i2p' };
    expect(await c.connect(route, { timeoutMs: 120_000 })).toBe(fake);
    expect(calls).toEqual([[{ proxyHost: '127.0.0.1', proxyPort: 4447, host: 'a.b32.i2p', port: 5269 }, 120_000]]);
  });

  it('sends direct routes to the direct connector', async () => {
    const domains: string[] = [];
    const c = createConnector({ socks5: async () => { throw new Error('no'); }, direct: async (d) => { domains.push(d); return fake; } });
    expect(await c.connect({ kind: 'direct', domain: 'example.org' }, { timeoutMs: 1000 })).toBe(fake);
    expect(domains).toEqual(['example.org']);
  });

  it('rejects refused routes with their reason, touching neither DNS nor TCP', async () => {
    guard.start([]);
    try {
      const err = await createConnector().connect({ kind: 'refused', reason: 'because' }, { timeoutMs: 1000 }).catch((e) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect([err.code, err.message]).toEqual(['refused', 'because']);
    } finally {
      guard.stop();
    }
    guard.assertNoLeaks();
  });
});

describe('decideRoute', () => {
  const socks: Route = { kind: 'socks5', proxyHost: '127.0.0.1', proxyPort: 4447, host: 'x.b32.i2p', port: 5269, reason: 'mapped' };
  const only = (domain: string, route: Route): RoutePolicy => ({ route: (d) => (d === domain ? route : undefined) });
  const builtIn = (on: boolean) => ({ only: on, proxyHost: '127.0.0.1', proxyPort: 4447 });

  it('takes the first policy that decides', () => {
    const refuse: Route = { kind: 'refused', reason: 'no' };
    expect(decideRoute([only('a.org', socks), only('a.org', refuse)], 'a.org', builtIn(false))).toBe(socks);
    expect(decideRoute([only('b.org', socks), only('a.org', refuse)], 'a.org', builtIn(false))).toBe(refuse);
  });

  it('refuses undecided domains under darknet_only, even with no policy at all', () => {
    expect(decideRoute([], 'example.org', builtIn(true))).toEqual({ kind: 'refused', reason: 'darknet_only is on: example.org is a clearnet domain (not .i2p) with no darknet_map entry, and Clove never dials clearnet hosts unless darknet_only = false' });
  });

  it('sends .i2p names through the proxy with no policy at all (the module disabled)', () => {
    expect(decideRoute([], 'x.b32.i2p', builtIn(false))).toEqual({ kind: 'socks5', proxyHost: '127.0.0.1', proxyPort: 4447, host: 'x.b32.i2p', port: 5269, reason: 'i2p' });
  });

  it('goes direct otherwise', () => {
    expect(decideRoute([only('a.org', socks)], 'example.org', builtIn(false))).toEqual({ kind: 'direct', domain: 'example.org' });
  });
});
