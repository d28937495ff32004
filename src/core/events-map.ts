// Every event name Clove fires and the payload it carries, declared once (docs/architecture.md, Events).
import type { Element } from '../xml/element.js';
import type { Jid } from '../jid/jid.js';
import type { C2SSession, Session } from './session.js';
import type { Turn } from './turn.js';

/** Payload of every stanza event. `origin` is undefined for stanzas the server itself sends. */
export interface StanzaEvent {
  origin: Session | undefined;
  stanza: Element;
  /** Parsed `to` (after preparation); undefined for stanzas without one. */
  to: Jid | undefined;
  /** Parsed `from` (stamped by the server for client stanzas). */
  from: Jid | undefined;
  /**
   * The stanza's turn on its client stream, when that stream may pipeline it (a message to a
   * local account): a handler may release it (src/core/turn.ts), and every handler ahead of
   * Priority.archive that has an effect must first await `turn.release()`.
   */
  turn?: Turn;
}

export interface EventMap {
  /** Fired by the stream layer to collect `<stream:features/>` children. */
  'stream-features': { session: C2SSession; features: Element };
  /** A stanza from a client that has not authenticated yet (XEP-0077 hooks this). */
  'unauthenticated-stanza': { session: C2SSession; stanza: Element };
  'session-authenticated': { session: C2SSession };
  'session-bound': { session: C2SSession };
  /** A bound session ended; `reason` is the stream error condition or 'closed'. */
  'session-closed': { session: C2SSession; reason: string };
  /** A session's initial available presence was broadcast and its probes sent (XEP-0160 delivers here). */
  'session-available': { session: C2SSession };
  /** Stanza for a domain Clove does not host; handlers return true once they took it. */
  'route/remote': StanzaEvent;
  /**
   * A message from a local client to another host (VirtualHost or component) of this server,
   * fired on the sender's host before it is routed there: the sender's side (blocklist, archive).
   * A handler that returns something other than undefined has taken the stanza.
   */
  'route/other-host': StanzaEvent;
  /**
   * Presence with a `to` from a local client, fired on the sender's host before it is routed
   * (subscription state and directed presence are the sender's server's business). A handler
   * that returns something other than undefined has taken the stanza; otherwise it is routed.
   */
  'presence/outbound': StanzaEvent;
  /** A chat/normal message for an account with no available resource (XEP-0160 takes it). */
  'message/offline': StanzaEvent;
  'user-created': { host: string; username: string };
  'user-deleted': { host: string; username: string };
  'server-started': { hosts: string[] };
  /** The config was reloaded (SIGHUP, admin command): ctx.option.live readers already return the new values; modules act on changes here. */
  'config-reloaded': { config: import('../config/config.js').Config; changed: string[] };
  'server-stopping': { reason: string };
  /**
   * A remote server looks gone: an outbound connection to it failed or was lost, or an inbound
   * stream from it was lost without `</stream:stream>`, and no verified stream with it is left
   * (fired by the s2s manager on the local host of the pair). Its users' presence-based state
   * (caps interest, room occupants on a muc component) is stale: they left without the
   * unavailable presence.
   */
  's2s-remote-lost': { local: string; remote: string; reason: string };
  /** An administrator asked the server to stop (XEP-0133); src/main.ts stops it. */
  'server-shutdown-requested': { reason: string };
  /** An administrator asked for a config reload (XEP-0133 style); src/main.ts answers with a ReloadOutcome. */
  'config-reload-requested': { via: string };
  /** A user's vCard was stored (`vcard` undefined: removed). */
  'vcard-updated': { host: string; username: string; vcard: Element | undefined };
  /** A nonza from a bound client (XEP-0352 <active/>, …); unhandled ones end the stream. */
  [nonza: `c2s-nonza/${string}`]: { session: C2SSession; element: Element };
  /** A stanza from a bound client was handled (XEP-0198 counts them); fired only when hooked. */
  'c2s-stanza-handled': { session: C2SSession };
  /** Whether a lost connection of this bound session would hibernate (XEP-0198); a handler returns true if so. */
  'session-resumable': { session: C2SSession };
  /**
   * A bound session's connection was lost without `</stream:stream>` (XEP-0198). A synchronous
   * handler that returns something keeps it bound without a socket ("hibernating"); it must end
   * it later itself: remove it from the session table and fire 'session-closed'.
   */
  'session-interrupted': { session: C2SSession; reason: string };
  /**
   * `<resume/>` on an authenticated, unbound stream (XEP-0198 §5). The handler answers it; to take
   * over a hibernating session it calls `bindAs(jid)`, which makes this connection bound as `jid`
   * (it does not register it in the session table nor fire 'session-bound').
   */
  'c2s-resume': { session: C2SSession; element: Element; bindAs(jid: Jid): void };
  /** A stanza about to be written to a bound client; a synchronous handler that returns something has taken it (XEP-0352). */
  'c2s-outgoing': { session: C2SSession; stanza: Element };
}

export type StanzaKind = 'message' | 'presence' | 'iq';
export type Target = 'full' | 'bare' | 'host' | 'self';
export type IqType = 'get' | 'set' | 'result' | 'error';

/** Stanza events, computed from the stanza's shape (Prosody style). */
export type StanzaEventName =
  | `${'pre-' | ''}${StanzaKind}/${Target}`
  | `iq-${IqType}/${Target}/${string}`;

export type EventName = keyof EventMap | StanzaEventName;
export type EventPayload<E extends string> = E extends keyof EventMap ? EventMap[E] : StanzaEvent;
