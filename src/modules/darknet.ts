// Darknet routing: which remote domains go through i2pd's SOCKS5 proxy, and which are refused.
// What Prosody's mod_darknet did, with its gaps closed: darknet_map entries may carry a port,
// subdomains of b32 names (which i2pd cannot resolve) go to their b32 address instead of DNS, and the decision (net/darknet-route.ts) is pure — no I/O — so a refused domain can
// never reach DNS code. Loaded by default (modules/index.ts AUTOLOAD); this module adds
// darknet_map, live reloads and the per-domain log line to the built-in decision.
// References: RFC 1928 (SOCKS5); docs/architecture.md ("What the design rests on", the remote walk).
import { defineModule } from '../core/modules.js';
import { isIP } from 'node:net';
import { ConfigError } from '../config/errors.js';
import { option, type Config } from '../config/config.js';
import type { DarknetTarget } from '../config/schema.js';
import type { Route, RoutePolicy } from '../net/connector.js';
import { normaliseDomain, routeFor, type DarknetOptions } from '../net/darknet-route.js';
import { proxyAddress } from '../net/socks5.js';

/** Bounds the "already logged" set, so a flood of made-up domains cannot grow memory forever. */
const LOGGED_MAX = 10_000;

/** A RoutePolicy over fixed options that reports each domain's first decision to `log` once. */
export function darknetPolicy(opts: DarknetOptions, log?: (domain: string, route: Route | undefined) => void): RoutePolicy & { forget(): void } {
  const logged = new Set<string>();
  return {
    /** Log each domain's decision again (the options changed). */
    forget: () => logged.clear(),
    route(domain: string): Route | undefined {
      const route = routeFor(domain, opts);
      const d = normaliseDomain(domain);
      if (log && !logged.has(d)) {
        if (logged.size >= LOGGED_MAX) logged.clear();
        logged.add(d);
        log(d, route);
      }
      return route;
    },
  };
}

export { normaliseDomain, isB32Subdomain, routeFor, type DarknetOptions } from '../net/darknet-route.js';

/** One line per remote domain for the operator: how it is reached, never anything about users. */
function describeRoute(domain: string, route: Route | undefined): { msg: string; fields: Record<string, unknown> } {
  if (!route || route.kind === 'direct') return { msg: `s2s to ${domain}: not an I2P destination; connecting directly (darknet_only is off)`, fields: { domain, route: 'direct' } };
  if (route.kind === 'refused') return { msg: `s2s to ${domain}: refused — ${route.reason}`, fields: { domain, route: 'refused' } };
  const via = `${route.proxyHost}:${route.proxyPort}`;
  if (route.reason === 'mapped') return { msg: `s2s to ${domain}: mapped to ${route.host}:${route.port} through the SOCKS5 proxy ${via}`, fields: { domain, route: 'mapped', target: `${route.host}:${route.port}`, proxy: via } };
  if (route.reason === 'b32-parent') return { msg: `s2s to ${domain}: a b32 subdomain, through the SOCKS5 proxy ${via} to its b32 address ${route.host} (works with Clove peers; Prosody peers need a darknet_map entry or the component's own b32)`, fields: { domain, route: 'b32-parent', target: `${route.host}:${route.port}`, proxy: via } };
  return { msg: `s2s to ${domain}: through the SOCKS5 proxy ${via}`, fields: { domain, route: 'proxy', proxy: via } };
}

/** Read and check the darknet options of `host` in `config`; throws ConfigError with file:line. */
export function darknetOptions(config: Config, host: string): DarknetOptions {
  const fail = (name: string, what: string): never => {
    const at = config.source(name, host);
    throw new ConfigError(at.file, at.line, what, name);
  };
  const proxyHost = option(config, host, 'darknet_socks5_host', '127.0.0.1');
  // Checked now rather than at the first connection: a proxy given by name would need DNS.
  if (proxyAddress(proxyHost) === undefined) {
    fail('darknet_socks5_host', `option 'darknet_socks5_host' must be an IP address or "localhost" (Clove never resolves names with DNS), got "${proxyHost}"`);
  }
  const map = config.get<Record<string, DarknetTarget> | undefined>('darknet_map', host) ?? {};
  for (const [domain, target] of Object.entries(map)) {
    // An IP address would be refused by i2pd, or sent to the clearnet by another proxy.
    if (isIP(target.host.replace(/^\[(.*)\]$/, '$1'))) {
      fail('darknet_map', `darknet_map entry '${domain}' points at the IP address ${target.host}; give an I2P destination like "x.b32.i2p"`);
    }
  }
  return {
    only: option(config, host, 'darknet_only', true),
    map,
    proxyHost,
    proxyPort: option(config, host, 'darknet_socks5_port', 4447, { min: 1, max: 65535 }),
  };
}

export default defineModule({
  name: 'darknet',
  setup(ctx) {
    const host = ctx.host.name;
    // darknet_map, the proxy address and darknet_only apply live. A reload checks them first: a
    // bad new value refuses the whole reload with its file:line, and the running routing stays.
    const current = ctx.option.live.custom((config) => darknetOptions(config, host));
    // The policy reads current() at every decision, so a reload swaps the options in one step:
    // there is never a moment without darknet routing (which could send a mapped name to DNS).
    const options: DarknetOptions = {
      get only() { return current().only; },
      get map() { return current().map; },
      get proxyHost() { return current().proxyHost; },
      get proxyPort() { return current().proxyPort; },
    };
    const policy = darknetPolicy(options, (domain, route) => {
      const { msg, fields } = describeRoute(domain, route);
      ctx.log.info(fields, msg);
    });
    ctx.provide('route-policy', policy);
    let logged = JSON.stringify(current());
    ctx.hook('config-reloaded', () => {
      const next = current();
      if (JSON.stringify(next) !== logged) {
        logged = JSON.stringify(next);
        policy.forget();
        ctx.log.info({ mapped: Object.keys(next.map).length, proxy: `${next.proxyHost}:${next.proxyPort}`, only: next.only }, 'darknet routing reloaded');
      }
      return undefined;
    });
  },
});
