// Stanza routing (RFC 6120 §10, RFC 6121 §8): validate addresses, compute the event from the
// stanza's shape, run the host's handlers, and apply the default when nobody handled it.
import type { Element } from '../xml/element.js';
import { iqResult } from './stanza.js';
import { Jid, tryParseJid } from '../jid/jid.js';
import { StanzaError, StreamError, errorReply, stanzaErrorFor } from './errors.js';
import type { StanzaEvent, Target } from './events-map.js';
import type { C2SSession, Session } from './session.js';
import type { SessionTable } from './sessions.js';
import type { Host } from './host.js';
import { isDecline, type Decline, type IqHandler } from './modules.js';
import type { Logger } from './log.js';
import { StorageBusyError } from '../storage/store.js';
import { waitForTurn, type Turn } from './turn.js';

export interface RouterDeps {
  hosts: ReadonlyMap<string, Host>;
  sessions: SessionTable;
  log: Logger;
  /** Domains this server stopped serving (a reload removed them): never routed as remote. */
  retired?: ReadonlySet<string>;
}

const KINDS = new Set(['message', 'presence', 'iq']);

export class Router {
  constructor(private readonly deps: RouterDeps) {}

  /**
   * A stanza from a bound client: stamp `from` with the session's full JID (a client may only
   * name its own full or bare JID; anything else is a stream error, RFC 6120 §8.1.2.1), then route.
   */
  fromClient(session: C2SSession, stanza: Element): void | Promise<void> {
    const jid = session.jid as Jid;
    const claimed = stanza.attrs.from;
    if (claimed !== undefined && claimed !== jid.toString()) {
      const c = tryParseJid(claimed);
      if (!c || !(c.equals(jid) || (c.isBare() && c.equals(jid.bare())))) {
        throw new StreamError('invalid-from', 'the from address is not this session');
      }
    }
    stanza.attrs.from = jid.toString();
    // The stream's turn for this stanza, when it may be pipelined (src/core/turn.ts).
    const turn = stanza.name === 'message' ? session.turn : undefined;
    // Addressed presence is first seen by the sender's own host, wherever it goes next: that
    // server keeps the sender's subscription states and directed-presence list (RFC 6121 §3, §4.6).
    if (stanza.name === 'presence' && stanza.attrs.to !== undefined) {
      const host = this.deps.hosts.get(jid.domain);
      const to = host?.events.has('presence/outbound') ? tryParseJid(stanza.attrs.to) : null;
      if (host && to) {
        stanza.attrs.to = to.toString();
        const ev: StanzaEvent = { origin: session, stanza, to, from: jid };
        return this.settle(this.fire(host.events, 'presence/outbound', ev), ev, () => this.route(stanza, session));
      }
    }
    // A message for another host of this server is first seen by the sender's host too (its
    // blocklist and its archive keep the sender's side), as one for another server is.
    if (stanza.name === 'message' && stanza.attrs.to !== undefined) {
      const host = this.deps.hosts.get(jid.domain);
      const to = host?.events.has('route/other-host') ? tryParseJid(stanza.attrs.to) : null;
      if (host && to && to.domain !== jid.domain && this.deps.hosts.has(to.domain)) {
        const ev: StanzaEvent = { origin: session, stanza, to, from: jid, turn };
        return this.settle(this.fire(host.events, 'route/other-host', ev), ev, () => this.route(ev.stanza, session, turn));
      }
    }
    return this.route(stanza, session, turn);
  }

  /** Route a stanza whose `from` is already trustworthy (`turn`: a client stream's, src/core/turn.ts). */
  route(stanza: Element, origin: Session | undefined, turn?: Turn): void | Promise<void> {
    const kind = stanza.name;
    if (!KINDS.has(kind)) return;
    const from = stanza.attrs.from !== undefined ? tryParseJid(stanza.attrs.from) ?? undefined : undefined;
    let to: Jid | undefined;
    if (stanza.attrs.to !== undefined) {
      const parsed = tryParseJid(stanza.attrs.to);
      if (!parsed) return this.bounceInTurn(turn, stanza, new StanzaError('jid-malformed', 'the to address is not a valid JID'), origin);
      to = parsed;
      // Keep the prepared form on the wire: routing and clients compare it byte for byte.
      stanza.attrs.to = parsed.toString();
    }
    let host: Host | undefined;
    let target: Target;
    if (!to) {
      if (!from) return;
      host = this.deps.hosts.get(from.domain);
      target = kind === 'message' ? 'bare' : 'self';
      if (kind === 'message') to = from.bare();
    } else {
      host = this.deps.hosts.get(to.domain);
      if (!host) {
        // A host just removed is still "here" for what its own sessions leave behind (unacked
        // messages re-routed at session end): never send that out to s2s, or to DNS.
        if (this.deps.retired?.has(to.domain)) return this.bounceInTurn(turn, stanza, new StanzaError('gone', `${to.domain} is no longer served here`), origin);
        return this.remote(stanza, origin, to, from, turn);
      }
      if (!to.local) target = 'host';
      else if (to.resource) target = 'full';
      else if (kind === 'iq' && from && from.local === to.local && from.domain === to.domain) target = 'self';
      else target = 'bare';
    }
    if (!host) return;
    return this.dispatch(host, kind, target, turn ? { origin, stanza, to, from, turn } : { origin, stanza, to, from });
  }

  private dispatch(host: Host, kind: string, target: Target, ev: StanzaEvent): void | Promise<void> {
    const type = ev.stanza.attrs.type ?? (kind === 'iq' ? '' : 'normal');
    if (kind === 'iq') {
      if (!['get', 'set', 'result', 'error'].includes(type)) {
        return this.bounce(ev.stanza, new StanzaError('bad-request', 'iq type must be get, set, result or error'), ev.origin);
      }
      if ((type === 'get' || type === 'set') && ev.stanza.elements().length !== 1) {
        return this.bounce(ev.stanza, new StanzaError('bad-request', 'an iq get or set carries exactly one payload'), ev.origin);
      }
    }
    // pre-<kind>/<target> first (policy: blocking), so it also covers iqs the server answers
    // itself for the recipient (vCard, disco); then the iq-specific event; then <kind>/<target>.
    const pre = `pre-${kind}/${target}` as const;
    const handle = (): void | Promise<void> => this.handle(host, kind, target, ev, type);
    if (host.events.has(pre)) return this.settle(this.fire(host.events, pre, ev), ev, handle);
    return handle();
  }

  private handle(host: Host, kind: string, target: Target, ev: StanzaEvent, type: string): void | Promise<void> {
    const bus = host.events;
    const main = `${kind}/${target}` as const;
    const runMain = (): void | Promise<void> => this.settle(this.fire(bus, main, ev), ev, () => this.fallback(kind, target, ev, type));
    if (kind === 'iq' && (type === 'get' || type === 'set') && target !== 'full') {
      const child = ev.stanza.elements()[0] as Element;
      const name = `iq-${type}/${target}/${child.xmlns ?? ''}:${child.local}` as const;
      if (bus.has(name)) return this.settle(this.fire(bus, name, ev), ev, runMain);
    }
    return runMain();
  }

  /** Fire an event; a handler's synchronous throw becomes a rejection, handled like an async one. */
  private fire(bus: Host['events'], name: string, ev: StanzaEvent): unknown {
    try {
      return bus.fire(name as 'route/remote', ev);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Continue with `next` when no handler took the stanza; turn a thrown StanzaError into a reply. */
  private settle(result: unknown, ev: StanzaEvent, next: () => void | Promise<void>): void | Promise<void> {
    if (result instanceof Promise) {
      return result.then(
        (r) => (r === undefined ? next() : undefined),
        (err) => this.handlerFailed(err, ev),
      );
    }
    if (result === undefined) return next();
  }

  private handlerFailed(err: unknown, ev: StanzaEvent): void | Promise<void> {
    return this.bounceInTurn(ev.turn, ev.stanza, this.stanzaErrorOf(err, ev, 'stanza handler failed'), ev.origin);
  }

  /**
   * The error a peer is told for a handler's failure: its own StanzaError, resource-constraint
   * (wait) when storage refused a write because too much waits for it, else an internal error (logged).
   */
  private stanzaErrorOf(err: unknown, ev: StanzaEvent, what: string): StanzaError {
    const { error, unexpected } = stanzaErrorFor(err);
    if (unexpected) this.deps.log.error({ err, stanza: ev.stanza.name }, what);
    else if (err instanceof StorageBusyError) this.deps.log.debug({ err, stanza: ev.stanza.name }, `${what}: storage busy`);
    return error;
  }

  /** What happens to a stanza no module took. */
  private fallback(kind: string, target: Target, ev: StanzaEvent, type: string): void | Promise<void> {
    const { stanza, to } = ev;
    if (kind === 'iq') {
      if (target === 'full' && to) {
        const s = this.deps.sessions.get(to.domain, to.local, to.resource);
        if (s) return s.send(stanza);
      }
      if (type === 'get' || type === 'set') return this.bounce(stanza, new StanzaError('service-unavailable'), ev.origin);
      return; // results and errors nobody waits for are dropped (RFC 6120 §8.2.3)
    }
    if (kind === 'message') {
      if (type === 'error' || type === 'headline') return;
      return this.bounceInTurn(ev.turn, stanza, new StanzaError('service-unavailable'), ev.origin);
    }
    // Presence nobody handled is dropped silently (RFC 6121 §4.3, §8.5).
  }

  private remote(stanza: Element, origin: Session | undefined, to: Jid, from: Jid | undefined, turn: Turn | undefined): void | Promise<void> {
    const host = from ? this.deps.hosts.get(from.domain) : undefined;
    const ev: StanzaEvent = turn ? { origin, stanza, to, from, turn } : { origin, stanza, to, from };
    const r = host?.events.has('route/remote') ? this.fire(host.events, 'route/remote', ev) : undefined;
    return this.settle(r, ev, () =>
      this.bounceInTurn(turn, stanza, new StanzaError('remote-server-not-found', `no route to ${to.domain}`), origin));
  }

  /** bounce(), once a pipelined stanza's predecessor has settled (src/core/turn.ts). */
  private bounceInTurn(turn: Turn | undefined, stanza: Element, err: StanzaError, origin: Session | undefined): void | Promise<void> {
    const wait = waitForTurn(turn);
    return wait ? wait.then(() => this.bounce(stanza, err, origin)) : this.bounce(stanza, err, origin);
  }

  /** Send the error reply for a stanza, if it may have one. */
  bounce(stanza: Element, err: StanzaError, origin: Session | undefined): void | Promise<void> {
    const reply = errorReply(stanza, err);
    if (!reply) return;
    if (reply.attrs.to === undefined && origin) return origin.send(reply);
    // An error about a stanza with no sender, or to a sender we cannot reach, is dropped.
    if (reply.attrs.to === undefined) return;
    return this.route(reply, undefined);
  }

  /** Register an iq handler; returns the unhook function. A handler's DECLINE lets the next one run. */
  hookIq(host: Host, type: 'get' | 'set', target: Target, xmlns: string, child: string, handler: IqHandler, priority?: number): () => void {
    return host.events.hook(`iq-${type}/${target}/${xmlns}:${child}`, (ev: StanzaEvent) => {
      let out;
      try {
        out = handler(ev);
      } catch (err) {
        return this.iqFailed(err, ev);
      }
      if (out instanceof Promise) return out.then((p) => this.iqResult(ev, p ?? undefined), (err) => this.iqFailed(err, ev));
      return this.iqResult(ev, out ?? undefined);
    }, priority);
  }

  private iqResult(ev: StanzaEvent, payload: Element | Decline | undefined): true | undefined {
    if (isDecline(payload)) return undefined;
    this.reply(ev, iqResult(ev.stanza, payload));
    return true;
  }

  private iqFailed(err: unknown, ev: StanzaEvent): true {
    const reply = errorReply(ev.stanza, this.stanzaErrorOf(err, ev, 'iq handler failed'));
    if (reply) this.reply(ev, reply);
    return true;
  }

  /** Replies go straight back to the requesting session when it is local. */
  private reply(ev: StanzaEvent, reply: Element): void {
    if (ev.origin && ev.origin.kind === 'c2s' && ev.origin.state === 'bound') ev.origin.send(reply);
    else void this.route(reply, undefined);
  }
}
