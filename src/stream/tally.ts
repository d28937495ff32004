// What streams count for the operator's metrics (src/ops reads them): stanzas by direction,
// link and kind, SASL failures by mechanism, s2s connection times by route. Streams are given
// a tally (main wires one in); none is a singleton, and a stream without one counts nothing.
// Labels are small fixed sets: never a JID or a remote domain (docs/metrics.md).
import type { Route } from '../net/connector.js';

/** Which kind of stream a stanza crossed. */
export type StreamLink = 'c2s' | 's2s';
/** The stanza kinds counted; anything else on a stream (nonzas, dialback, SASL) is not. */
export type StanzaKind = 'message' | 'presence' | 'iq';
/** How an s2s link is reached, aggregated so no remote domain is named. */
export type RouteLabel = 'socks5' | 'darknet_map' | 'direct' | 'refused';

/** Counters streams and the s2s manager report to. */
export interface StreamTally {
  stanza(direction: 'in' | 'out', link: StreamLink, kind: StanzaKind): void;
  /** A SASL exchange failed with `condition`; `mechanism` is one Clove offers, or 'none'. */
  authFailure(mechanism: string, condition: string): void;
  /** An outbound s2s connection: the socket (`tunnel`) or the stream up to dialback (`stream`) took `seconds`. */
  s2sConnect(route: RouteLabel, phase: 'tunnel' | 'stream', seconds: number): void;
  /** An outbound s2s connection attempt failed. */
  s2sConnectFailed(route: RouteLabel): void;
}

/** The label of a route: darknet_map entries, other SOCKS5 (.i2p) routes, direct, refused. */
export function routeLabel(route: Route): RouteLabel {
  if (route.kind === 'socks5') return route.reason === 'mapped' ? 'darknet_map' : 'socks5';
  return route.kind;
}

/** The stanza kind of an element name or of serialised stanza text, undefined for anything else. */
export function stanzaKind(stanza: { name: string } | string): StanzaKind | undefined {
  if (typeof stanza !== 'string') {
    const n = stanza.name;
    return n === 'message' || n === 'presence' || n === 'iq' ? n : undefined;
  }
  // Serialised stanzas start with their tag: '<message ', '<presence>', '<iq/>' …
  for (const k of KINDS) if (stanza.startsWith(k.tag) && /[\s/>]/.test(stanza.charAt(k.tag.length))) return k.kind;
  return undefined;
}

const KINDS: ReadonlyArray<{ tag: string; kind: StanzaKind }> = [
  { tag: '<message', kind: 'message' },
  { tag: '<presence', kind: 'presence' },
  { tag: '<iq', kind: 'iq' },
];
