// The narrow view of a client session that core and modules see. The stream layer
// (src/stream/c2s.ts) implements it; nothing outside the stream layer touches sockets.
import type { Element } from '../xml/element.js';
import type { Jid } from '../jid/jid.js';
import type { StreamError } from './errors.js';
import type { Turn } from './turn.js';
import { NS } from '../xml/ns.js';

export type C2SState =
  | 'expect-stream'   // waiting for the client's stream header
  | 'negotiating'     // features sent; STARTTLS and SASL happen here
  | 'tls-handshake'   // <proceed/> sent, TLS handshake under way
  | 'authenticated'   // SASL succeeded; waiting for restart and bind
  | 'bound'           // resource bound: a routable session
  | 'closed';

export interface C2SSession {
  readonly kind: 'c2s';
  readonly id: string;
  readonly host: string;
  readonly state: C2SState;
  readonly secure: boolean;
  /** How the client is connected: TCP, WebSocket (RFC 7395) or BOSH (XEP-0206). */
  readonly transportKind: 'tcp' | 'websocket' | 'bosh';
  /** Account name (prepared localpart); '' before authentication. */
  readonly username: string;
  /** Full JID once bound. */
  readonly jid: Jid | undefined;
  /** Last available presence the client broadcast, undefined while unavailable. */
  presence: Element | undefined;
  /** Priority of that presence (RFC 6121 §4.7.2.3), 0 when absent. */
  priority: number;
  /** True once the client has fetched its roster (an "interested resource", RFC 6121 §2.1.6). */
  rosterInterested: boolean;
  /** Free-form per-module state. */
  readonly data: Map<string, unknown>;
  /** Queue a stanza (or raw XML) to the client. */
  send(stanza: Element | string): void;
  /**
   * Send stanzas the client is owed (a XEP-0198 resumption) even past the output limit: they
   * are held in memory already, so sending them moves them rather than adding more.
   */
  replay(stanzas: readonly Element[]): void;
  /** End the stream, with a stream error if given. */
  close(error?: StreamError): void;
  /** The turn of the stanza being handed to the router right now (set only during that call). */
  readonly turn?: Turn;
  /** Resolves once every stanza this session started handling has settled; undefined when none is in flight. */
  inFlight?(): Promise<void> | undefined;
}

/** A server-to-server stream, inbound or outbound. Stanzas arrive only on inbound ones. */
export interface S2SSession {
  readonly kind: 's2s-in' | 's2s-out';
  readonly id: string;
  readonly secure: boolean;
  /** Remote domains verified on this stream (dialback), each as "remote local". */
  readonly verified: ReadonlySet<string>;
  send(stanza: Element | string): void;
  close(error?: StreamError): void;
}

/** An external component's stream (XEP-0114), once its handshake succeeded. */
export interface ComponentSession {
  readonly kind: 'component';
  readonly id: string;
  readonly secure: boolean;
  /** The component's domain: every stanza it sends is from it. */
  readonly domain: string;
  send(stanza: Element | string): void;
  close(error?: StreamError): void;
}

/** Any session a stanza can come from. */
export type Session = C2SSession | S2SSession | ComponentSession;

/**
 * The default namespace a stanza from `origin` inherits from its stream header (RFC 6120 §4.8.3):
 * what an unprefixed element without its own `xmlns` is in. The server's own stanzas: jabber:client.
 */
export function streamNamespace(origin: Session | undefined): string {
  if (origin?.kind === 's2s-in' || origin?.kind === 's2s-out') return NS.SERVER;
  return origin?.kind === 'component' ? NS.COMPONENT : NS.CLIENT;
}
