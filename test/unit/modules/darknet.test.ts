// Darknet routing: the route table, the module's policy and log, and no DNS for refused domains.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import darknet, { isB32Subdomain, routeFor, type DarknetOptions } from '../../../src/modules/darknet.js';
import { parseConfig } from '../../../src/config/config.js';
import { Host, type HostDeps } from '../../../src/core/host.js';
import { MODULES, resolveModules } from '../../../src/modules/index.js';
import type { Route, RoutePolicy } from '../../../src/net/connector.js';
import { createConnector, decideRoute } from '../../../src/net/connect.js';
import { certificateCanProve } from '../../../src/net/darknet-route.js';
import * as guard from '../../helpers/leak-guard.js';

const A = 'ynkz7ebfkllljitiodcq52pa7fgqziomz4wa7tv4qiqldghpx4uq.b32.i2p';
const B = 'xmppoeiqpbeelicgkoim3ibegjonbqwh7vv7d6nsju73tjjmujpq.b32.i2p';
const base: DarknetOptions = {
  only: false,
  map: { 'i2p.rocks': { host: A, port: 5269 }, 'muc.i2p.rocks': { host: A, port: 5270 }, [`conference.${B}`]: { host: B, port: 5269 } },
  proxyHost: '127.0.0.1',
  proxyPort: 4447,
};
const via = (host: string, port: number, reason: 'mapped' | 'i2p' | 'b32-parent'): Route => ({ kind: 'socks5', proxyHost: '127.0.0.1', proxyPort: 4447, host, port, reason });

describe('routeFor', () => {
  const table: [string, string, boolean, Route | undefined][] = [
    ['mapped, string form', 'i2p.rocks', false, via(A, 5269, 'mapped')],
    ['mapped, table form with port', 'muc.i2p.rocks', false, via(A, 5270, 'mapped')],
    ['mapped wins under darknet_only', 'i2p.rocks', true, via(A, 5269, 'mapped')],
    ['a b32 address', B, false, via(B, 5269, 'i2p')],
    ['a b32 address under darknet_only', B, true, via(B, 5269, 'i2p')],
    ['an addressbook .i2p name', 'xmpp.i2p', false, via('xmpp.i2p', 5269, 'i2p')],
    ['case-insensitive .i2p', B.toUpperCase(), false, via(B, 5269, 'i2p')],
    ['case-insensitive map', 'I2P.Rocks', true, via(A, 5269, 'mapped')],
    ['trailing root dot', 'i2p.rocks.', true, via(A, 5269, 'mapped')],
    ['a mapped b32 subdomain', `CONFERENCE.${B}`, false, via(B, 5269, 'mapped')],
    ['clearnet without darknet_only', 'example.org', false, undefined],
  ];
  for (const [what, domain, only, want] of table) {
    it(what, () => expect(routeFor(domain, { ...base, only })).toEqual(want));
  }

  it('refuses clearnet under darknet_only, saying why', () => {
    expect(routeFor('Example.org', { ...base, only: true })).toEqual({
      kind: 'refused',
      reason: 'darknet_only is on: example.org is a clearnet domain (not .i2p) with no darknet_map entry, and Clove never dials clearnet hosts unless darknet_only = false',
    });
  });

  it('routes an unmapped b32 subdomain to its b32 address (the stream still names the subdomain), with or without darknet_only', () => {
    for (const only of [false, true]) {
      expect(routeFor(`muc.${A}`, { ...base, only })).toEqual(via(A, 5269, 'b32-parent'));
      expect(routeFor(`a.b.${A.toUpperCase()}`, { ...base, only })).toEqual(via(A, 5269, 'b32-parent'));
    }
    expect([isB32Subdomain(`a.${A}`), isB32Subdomain(A), isB32Subdomain('a.b.i2p')]).toEqual([true, false, false]);
  });

  it('lets a darknet_map entry win over the b32 parent rule', () => {
    expect(routeFor(`conference.${B}`, base)).toEqual(via(B, 5269, 'mapped'));
    expect(routeFor(`conference.${B}`, { ...base, map: { [`conference.${B}`]: { host: A, port: 5270 } } })).toEqual(via(A, 5270, 'mapped'));
  });

  it('leaves certificates out of s2s_secure_auth for .i2p peers only', () => {
    expect([certificateCanProve(A), certificateCanProve(`muc.${A}`), certificateCanProve('Xmpp.I2P.'), certificateCanProve('example.org')]).toEqual([false, false, false, true]);
  });

  it('is not fooled by Object.prototype names', () => {
    expect(routeFor('constructor', base)).toBeUndefined();
    expect(routeFor('__proto__', { ...base, only: true })?.kind).toBe('refused');
  });

  it('uses the configured proxy', () => {
    expect(routeFor(B, { ...base, proxyHost: '10.0.0.2', proxyPort: 9050 })).toMatchObject({ proxyHost: '10.0.0.2', proxyPort: 9050 });
  });
});

/** A host with only the darknet module loaded, its log lines captured. */
async function load(cfg: string): Promise<{ policies: readonly RoutePolicy[]; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
  const config = parseConfig(`${cfg}\nVirtualHost "${B}"`, '/etc/clove/clove.cfg.lua');
  const deps = { config, log: pino({ level: 'info' }, sink), isLocal: (d: string) => d === B } as unknown as HostDeps;
  const host = new Host(B, deps);
  await host.load([darknet], MODULES);
  await new Promise((r) => setImmediate(r));
  return { policies: host.items('route-policy'), lines };
}

describe('the darknet module', () => {
  it('is registered under its Prosody name', () => {
    expect(MODULES.get('darknet')).toBe(darknet);
  });

  it('is loaded whether modules_enabled names it or not, and only modules_disabled turns it off', () => {
    const loads = (cfg: string) => resolveModules(parseConfig(`${cfg}\nVirtualHost "${B}"`, '/c.lua'), B).load.includes(darknet.name);
    expect(loads('')).toBe(true);
    expect(loads('modules_enabled = { "roster"; "disco" }')).toBe(true);
    expect(loads('modules_enabled = { "roster"; "darknet" }')).toBe(true);
    expect(loads('darknet_only = false\nmodules_disabled = { "darknet" }')).toBe(false);
    expect(() => loads('modules_enabled = { "roster" }\nmodules_disabled = { "darknet" }')).toThrow(/^\/c\.lua:2: darknet_only is on \(the default\) but darknet routing is disabled/);
  });

  it('provides a route policy from the config, and logs each domain once', async () => {
    const { policies, lines } = await load('darknet_only = true\ndarknet_socks5_host = "localhost"\ndarknet_socks5_port = 14447\ndarknet_map = { ["i2p.rocks"] = { host = "' + A + '"; port = 5270 } }');
    expect(policies).toHaveLength(1);
    const p = policies[0] as RoutePolicy;
    expect(p.route('i2p.rocks')).toEqual({ kind: 'socks5', proxyHost: 'localhost', proxyPort: 14447, host: A, port: 5270, reason: 'mapped' });
    p.route('I2P.ROCKS');
    p.route(A);
    p.route('example.org');
    p.route('example.org');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.mod, l.domain, l.route, l.msg])).toEqual([
      ['darknet', 'i2p.rocks', 'mapped', `s2s to i2p.rocks: mapped to ${A}:5270 through the SOCKS5 proxy localhost:14447`],
      ['darknet', A, 'proxy', `s2s to ${A}: through the SOCKS5 proxy localhost:14447`],
      ['darknet', 'example.org', 'refused', 's2s to example.org: refused — darknet_only is on: example.org is a clearnet domain (not .i2p) with no darknet_map entry, and Clove never dials clearnet hosts unless darknet_only = false'],
    ]);
  });

  it('uses the defaults 127.0.0.1:4447 and darknet_only = true', async () => {
    const { policies } = await load('');
    const p = policies[0] as RoutePolicy;
    expect(p.route(A)).toEqual(via(A, 5269, 'i2p'));
    expect(p.route('example.org')).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/^darknet_only is on: example\.org is a clearnet domain/) });
  });

  it('leaves clearnet alone with darknet_only = false', async () => {
    const { policies } = await load('darknet_only = false');
    expect((policies[0] as RoutePolicy).route('example.org')).toBeUndefined();
  });

  it('fails start-up for a proxy given by name, or a map entry pointing at an IP address', async () => {
    await expect(load('darknet_socks5_host = "i2pd.lan"')).rejects.toThrow(/^\/etc\/clove\/clove\.cfg\.lua:1: option 'darknet_socks5_host' must be an IP address or "localhost"/);
    await expect(load('\ndarknet_map = { ["a.org"] = "10.1.2.3" }')).rejects.toThrow(/^\/etc\/clove\/clove\.cfg\.lua:2: darknet_map entry 'a\.org' points at the IP address 10\.1\.2\.3/);
  });
});

describe('no leaks under darknet_only', () => {
  const builtIn = (only: boolean) => ({ only, proxyHost: '127.0.0.1', proxyPort: 4447 });
  it('decides and refuses a clearnet domain without any DNS call or TCP connection', async () => {
    const { policies } = await load('darknet_only = true');
    guard.start([]);
    let err: unknown;
    try {
      const route = decideRoute(policies, 'jabber.org', builtIn(true));
      expect(route.kind).toBe('refused');
      err = await createConnector().connect(route, { timeoutMs: 1000 }).catch((e) => e);
      // Without the module, darknet_only alone must also refuse.
      expect(decideRoute([], 'jabber.org', builtIn(true)).kind).toBe('refused');
    } finally {
      guard.stop();
    }
    expect((err as Error).message).toMatch(/darknet_only is on: jabber\.org is a clearnet domain/);
    expect(guard.violations).toEqual([]);
  });

  it('without the darknet module, an .i2p name still goes through the proxy, never to DNS', () => {
    guard.start([]);
    try {
      for (const only of [false, true]) {
        expect(decideRoute([], 'x.b32.i2p', builtIn(only))).toEqual(via('x.b32.i2p', 5269, 'i2p'));
        expect(decideRoute([], 'Forum.I2P.', builtIn(only))).toEqual(via('forum.i2p', 5269, 'i2p'));
      }
      // Clearnet names go direct only when darknet_only is off (that is what the operator chose).
      expect(decideRoute([], 'jabber.org', builtIn(false)).kind).toBe('direct');
    } finally {
      guard.stop();
    }
    expect(guard.violations).toEqual([]);
  });

  it('never resolves a mapped clearnet domain: the proxy gets the b32 name', async () => {
    const { policies } = await load(`darknet_only = true\ndarknet_map = { ["i2p.rocks"] = "${A}" }`);
    guard.start([]);
    try {
      expect(decideRoute(policies, 'i2p.rocks', builtIn(true))).toMatchObject({ kind: 'socks5', host: A });
    } finally {
      guard.stop();
    }
    expect(guard.violations).toEqual([]);
  });
});
