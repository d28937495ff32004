// The outbound seam (docs/architecture.md, the remote walk): s2s code asks for a socket to a remote XMPP domain and never
// knows how it was reached. Route policies (the darknet module) decide; connectors perform.
import type { Socket } from 'node:net';

/** How to reach a domain; computed without any I/O (no DNS), so it can be logged and tested. */
export type Route =
  /** Through a SOCKS5 proxy (i2pd's on 4447): the hostname is sent to the proxy, never resolved here. */
  | { kind: 'socks5'; proxyHost: string; proxyPort: number; host: string; port: number; reason: 'mapped' | 'i2p' | 'b32-parent' }
  /** Ordinary Internet federation: SRV `_xmpp-server._tcp`, then A/AAAA, then port 5269. */
  | { kind: 'direct'; domain: string }
  /** Not allowed (darknet_only): the reason goes into the bounce text and the log. */
  | { kind: 'refused'; reason: string };

/** A route policy returns a Route for domains it decides about, undefined for the rest. */
export interface RoutePolicy {
  route(domain: string): Route | undefined;
}

declare module '../core/items-map.js' {
  interface ItemMap {
    /** How to reach a remote domain (darknet routing). Read by the s2s layer. */
    'route-policy': RoutePolicy;
  }
}

export interface ConnectOptions {
  /** Give up after this long (connect + proxy negotiation). I2P first contact can take minutes. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Why an outbound connection failed, in words an operator can act on. */
export class ConnectError extends Error {
  constructor(
    readonly code: 'refused' | 'timeout' | 'proxy-failed' | 'proxy-unreachable' | 'dns' | 'network' | 'aborted',
    message: string,
  ) {
    super(message);
  }
}

/** Opens a TCP connection along a route. */
export interface Connector {
  connect(route: Route, opts: ConnectOptions): Promise<Socket>;
}
