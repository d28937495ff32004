// Message carbons: every resource of an account that asks for it sees both sides of its
// conversations, whichever resource they happened on. References: XEP-0280 v1.0 (Message
// Carbons), XEP-0297 (Stanza Forwarding), XEP-0334 (no-copy hint).
//
// A session opts in and out with <enable/> / <disable/> (the flag lives in session.data, so the
// host delivering a message can read it for a sender on any host). Copies are made:
// - received: where a message for a local account is delivered ('message/bare|full', before the
//   message module), to each carbons-enabled resource that does not get the original;
// - sent: where a message from a local client is routed — the same events for local recipients,
//   'route/remote' (ahead of s2s) for remote ones — to each carbons-enabled resource but the sender.
// Blocking runs in the 'pre-' events and ahead of this on 'route/remote': blocked messages are
// never copied. Messages between two resources of one account are not copied at all.
import { Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import type { Jid } from '../jid/jid.js';
import { defineModule } from '../core/modules.js';
import { Priority } from '../core/events.js';
import { StanzaError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events-map.js';
import type { C2SSession } from '../core/session.js';
import { sentView } from './mam/stanza-id.js';

const ENABLED = 'carbons.enabled';
/** Payloads of instant messaging that make a message of any type worth copying (XEP-0280 §6). */
const IM_PAYLOADS = new Set<string | undefined>([NS.CHATSTATES, NS.RECEIPTS, NS.MARKERS]);

/** True when the session asked for carbons. */
export function carbonsEnabled(s: C2SSession): boolean {
  return s.data.get(ENABLED) === true;
}

/** XEP-0280 §6: is this message one whose copies the account's other resources should see? */
export function eligible(stanza: Element): boolean {
  const type = stanza.attrs.type ?? 'normal';
  if (type === 'groupchat' || type === 'headline' || type === 'error') return false;
  if (stanza.getChild('private', NS.CARBONS) || stanza.getChild('no-copy', NS.HINTS)) return false;
  // A carbon is never copied again; a MUC private message stays where the room sent it.
  if (stanza.getChild('received', NS.CARBONS) || stanza.getChild('sent', NS.CARBONS)) return false;
  if (stanza.getChild('x', NS.MUC_USER)) return false;
  if (type === 'chat') return true;
  if (stanza.getChild('body')) return true;
  return stanza.elements().some((c) => IM_PAYLOADS.has(c.xmlns));
}

/** The copy for one resource: <message from=bare to=full><received|sent><forwarded><message/>… */
export function carbon(kind: 'received' | 'sent', original: Element, account: Jid, to: Jid): Element {
  // The forwarded stanza keeps its own namespace: inside <forwarded/> it would otherwise inherit
  // urn:xmpp:forward:0. Children are shared, never changed.
  const inner = new Element('message', { ...original.attrs, xmlns: NS.CLIENT }, original.children);
  const attrs: Record<string, string | undefined> = { from: account.bareString(), to: to.toString(), type: original.attrs.type };
  return x('message', attrs, x(kind, { xmlns: NS.CARBONS }, x('forwarded', { xmlns: NS.FORWARD }, inner)));
}

const sameAccount = (a: Jid, b: Jid): boolean => a.local === b.local && a.domain === b.domain;

export default defineModule({
  name: 'carbons',
  setup(ctx) {
    const host = ctx.host;
    ctx.feature(NS.CARBONS);

    const toggle = (on: boolean) => (ev: StanzaEvent): undefined => {
      const s = ev.origin;
      if (!s || s.kind !== 'c2s') throw new StanzaError('not-allowed', 'carbons are for clients of this server');
      s.data.set(ENABLED, on);
      return undefined;
    };
    ctx.iq('set', 'self', NS.CARBONS, 'enable', toggle(true));
    ctx.iq('set', 'self', NS.CARBONS, 'disable', toggle(false));

    /** <sent/> copies for the sender's other resources, when a local client sent the message. */
    const sentCopies = (ev: StanzaEvent): void => {
      const { origin, from } = ev;
      if (!origin || origin.kind !== 'c2s' || !origin.jid || !from || !origin.jid.equals(from)) return;
      // With the sender's own archive id (XEP-0359) when the mam module archived it, never the recipient's.
      const original = sentView(ev.stanza);
      for (const s of host.sessions.ofUser(from.domain, from.local)) {
        if (s !== origin && s.jid && s.state === 'bound' && carbonsEnabled(s)) s.send(carbon('sent', original, from, s.jid));
      }
    };

    /** <received/> copies for the resources of a local recipient that do not get the original. */
    const receivedCopies = (ev: StanzaEvent, to: Jid): void => {
      const sessions = host.sessions.ofUser(host.name, to.local);
      if (sessions.length === 0) return;
      const direct = to.resource ? host.sessions.get(host.name, to.local, to.resource) : undefined;
      // Who the message module gives it to: that resource, or else (a bare JID or a resource that
      // is gone) every available resource with a non-negative priority (RFC 6121 §8.5.2.1.1).
      const gets = direct
        ? (s: C2SSession) => s === direct
        : (s: C2SSession) => s.presence !== undefined && s.priority >= 0;
      // Nobody gets it now: it goes to offline storage and arrives later as itself.
      if (!direct && !sessions.some(gets)) return;
      for (const s of sessions) {
        if (!gets(s) && s.jid && s.state === 'bound' && carbonsEnabled(s)) s.send(carbon('received', ev.stanza, to, s.jid));
      }
    };

    const local = (ev: StanzaEvent): undefined => {
      const { from, to } = ev;
      if (!to || !to.local || (from && sameAccount(from, to)) || !eligible(ev.stanza)) return undefined;
      sentCopies(ev);
      receivedCopies(ev, to);
      return undefined;
    };
    // After 'pre-' (blocking) and the offline module's hold, before delivery (fallback).
    ctx.hook('message/bare', local, Priority.early);
    ctx.hook('message/full', local, Priority.early);

    // Messages to other servers: only the sent side is ours. Blocking (policy) is ahead of this,
    // the s2s module (normal) after it.
    ctx.hook('route/remote', (ev) => {
      if (ev.stanza.name !== 'message' || !ev.from || ev.from.domain !== host.name || !eligible(ev.stanza)) return undefined;
      sentCopies(ev);
      return undefined;
    }, Priority.early);
  },
});
