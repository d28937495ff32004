// The Connector the s2s layer uses: it performs whatever Route a policy decided, and nothing
// else. Keeping the decision (route policies, no I/O) apart from the doing (here) lets the
// leak tests prove that a refused or proxied domain never reaches DNS code.
import type { Socket } from 'node:net';
import { ConnectError, type ConnectOptions, type Connector, type Route, type RoutePolicy } from './connector.js';
import { socks5Connect, type Socks5Target } from './socks5.js';
import { directConnect } from './direct.js';
import { routeFor, type DarknetOptions } from './darknet-route.js';

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

/** What decideRoute needs when no policy decides: darknet_only and the proxy address. */
export type BuiltInRouting = Omit<DarknetOptions, 'map'>;

/**
 * The route for a remote domain: the first policy that decides wins (the darknet module, with
 * darknet_map); otherwise the built-in darknet routing, so that with the module disabled an .i2p
 * name still goes through the proxy and darknet_only still refuses, and anything else goes direct.
 */
export function decideRoute(policies: readonly RoutePolicy[], domain: string, builtIn: BuiltInRouting): Route {
  for (const p of policies) {
    const route = p.route(domain);
    if (route) return route;
  }
  return routeFor(domain, { ...builtIn, map: {} }) ?? { kind: 'direct', domain };
}
