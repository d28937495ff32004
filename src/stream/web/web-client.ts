// What the WebSocket and BOSH endpoints share: their dependencies, the admission of a new c2s
// stream (the same caps as TCP clients: c2s_max_connections, c2s_max_unauthenticated), and the
// check of a browser's Origin (Prosody's cross_domain_websocket / cross_domain_bosh).
import type { Socket } from 'node:net';
import type { Transport } from '../transport.js';
import { C2SConnection, type C2SOptions } from '../c2s.js';
import type { ConnectionAdmission } from '../admission.js';
import type { RateLimit } from '../../net/rate-limit.js';
import type { Logger } from '../../core/log.js';
import type { StreamTally } from '../tally.js';

/** Options read for each new connection or request (a reload applies to the next one). */
export interface WebClientOptions {
  /** consider_websocket_secure / consider_bosh_secure. */
  readonly secure: boolean;
  /** cross_domain_websocket / cross_domain_bosh: false (same origin), true (any) or the origins allowed. */
  readonly crossDomain: boolean | readonly string[];
}

export interface WebClientDeps {
  readonly c2s: C2SOptions;
  readonly admission: ConnectionAdmission<C2SConnection>;
  readonly log: Logger;
  /** The read rate of one client (the `limits` option's c2s). */
  readonly rate: RateLimit | undefined;
  /** Where stanzas in and out are counted (the operator's metrics), if anywhere. */
  readonly tally?: StreamTally;
  options(): WebClientOptions;
  /** Whether the host the HTTP service picked for a request serves this endpoint (its module is loaded). */
  serves(host: string): boolean;
  /** The origin of the host's public URL (http_external_url), e.g. `http://xxx.b32.i2p`. */
  ownOrigin(host: string): string;
}

/** Why a new client is refused now (counted, and logged at most once a minute), or undefined. */
export function clientRefusal(deps: Pick<WebClientDeps, 'admission' | 'log'>): string | undefined {
  const refused = deps.admission.refusal();
  if (refused) {
    const n = deps.admission.countRefusal();
    if (n) deps.log.warn({ connections: deps.admission.size, refused: n }, `c2s connections refused: ${refused}`);
  }
  return refused;
}

/** Start a c2s stream over `transport` (or a TCP socket) if the caps allow; the refusal's text otherwise. */
export function admitClient(deps: Pick<WebClientDeps, 'c2s' | 'admission' | 'rate' | 'log' | 'tally'>, transport: Transport | Socket): C2SConnection | string {
  const refused = clientRefusal(deps);
  if (refused) return refused;
  const conn = new C2SConnection(transport, deps.c2s, deps.admission.removed);
  conn.limitRate(deps.rate);
  conn.countInto(deps.tally, 'c2s');
  deps.admission.added(conn);
  return conn;
}

/**
 * Whether a request with this `Origin` may use the endpoint. No Origin: not a browser, nothing
 * to protect. Same origin: the host's public URL, or the request's own `Host` (a page served by
 * the same HTTP service under another name, e.g. plain loopback while testing).
 */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined, own: string, cross: boolean | readonly string[]): boolean {
  if (origin === undefined) return true;
  if (cross === true) return true;
  const o = origin.toLowerCase().replace(/\/$/, '');
  if (o === own.toLowerCase()) return true;
  if (Array.isArray(cross) && cross.some((c) => c.toLowerCase().replace(/\/$/, '') === o)) return true;
  try {
    const u = new URL(o);
    return (u.protocol === 'http:' || u.protocol === 'https:') && hostHeader !== undefined && u.host === hostHeader.toLowerCase();
  } catch {
    return false; // "null" (a file:// page, a sandbox) and other non-URLs
  }
}
