// The Connector the s2s layer uses: it performs whatever Route a policy decided, and nothing
// else. Keeping the decision (route policies, no I/O) apart from the doing (here) lets the
// leak tests prove that a refused or proxied domain never reaches DNS code.
import type { Socket } from 'node:net';
import { ConnectError, type ConnectOptions, type Connector, type Route, type RoutePolicy } from './connector.js';
import { socks5Connect, type Socks5Target } from './socks5.js';
import { directConnect } from './direct.js';

/** The two ways out, replaceable in tests. */
export interface ConnectorDeps {
  socks5(target: Socks5Target, opts: ConnectOptions): Promise<Socket>;
  direct(domain: string, opts: ConnectOptions): Promise<Socket>;
}

/** A Connector dispatching on route.kind: 'socks5' through the proxy, 'direct' via DNS, 'refused' rejects. */
export function createConnector(deps: Partial<ConnectorDeps> = {}): Connector {
  const socks5 = deps.socks5 ?? socks5Connect;
  const direct = deps.direct ?? ((domain: string, opts: ConnectOptions) => directConnect(domain, opts));
  return {
    connect(route: Route, opts: ConnectOptions): Promise<Socket> {
      switch (route.kind) {
        case 'socks5':
          return socks5({ proxyHost: route.proxyHost, proxyPort: route.proxyPort, host: route.host, port: route.port }, opts);
        case 'direct':
          return direct(route.domain, opts);
        case 'refused':
          return Promise.reject(new ConnectError('refused', route.reason));
      }
    },
  };
}

/**
 * The route for a remote domain: the first policy that decides wins; otherwise `darknet_only`
 * refuses (so a missing darknet module never leaks) and anything else goes direct.
 */
export function decideRoute(policies: readonly RoutePolicy[], domain: string, darknetOnly: boolean): Route {
  for (const p of policies) {
    const route = p.route(domain);
    if (route) return route;
  }
  if (darknetOnly) return { kind: 'refused', reason: `darknet_only is set: ${domain} is not an I2P destination and has no darknet_map entry` };
  // Never look up an I2P name in DNS, even with the darknet module off: the query would leak it.
  if (/\.i2p\.?$/i.test(domain)) return { kind: 'refused', reason: `${domain} is an I2P name and the darknet module is not loaded; add "darknet" to modules_enabled` };
  return { kind: 'direct', domain };
}
