// Presence and presence subscriptions for local accounts. References: RFC 6121 §3 (subscriptions),
// §4 (presence), §8.5 (delivery rules for presence), §3.4 (pre-approval).
//
// Client presence reaches this module twice: with a `to`, first on the sender's host
// ('presence/outbound': subscription state, directed-presence list), then wherever it is
// addressed ('presence/bare|full|host', also for presence the server itself sends); without a
// `to` as 'presence/self' (broadcast). Each session's presence work runs one step at a time,
// so a client that sends presence and disconnects at once is never left looking online.
// The roster store lives here (this module is always loaded); the roster module borrows it.
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { Jid } from '../../jid/jid.js';
import { defineModule } from '../../core/modules.js';
import { Priority } from '../../core/events.js';
import { StanzaError } from '../../core/errors.js';
import type { StanzaEvent } from '../../core/events-map.js';
import type { C2SSession } from '../../core/session.js';
import { DEFAULT_ROSTER_LIMITS, RosterStore, seesContact, seesUser, type Roster, type RosterLimits } from '../roster/roster-store.js';
import { PresenceBroadcast } from './presence-broadcast.js';
import { Subscriptions } from './presence-subscriptions.js';
import { SUBSCRIPTION_TYPES, type SubscriptionType } from './subscription.js';

const TYPES = new Set(['unavailable', 'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'error']);

/** The presence type, undefined for available; bad-request for anything RFC 6121 does not define. */
function presenceType(stanza: Element): string | undefined {
  const t = stanza.attrs.type;
  if (t !== undefined && !TYPES.has(t)) throw new StanzaError('bad-request', `'${t}' is not a presence type`);
  return t;
}

const isSubscription = (t: string | undefined): t is SubscriptionType => t !== undefined && SUBSCRIPTION_TYPES.has(t);

const CHAIN = 'presence.chain';

/** Run presence work for one session after the work queued before it. */
function serial<T>(session: C2SSession, fn: () => Promise<T>): Promise<T> {
  const prev = (session.data.get(CHAIN) as Promise<unknown> | undefined) ?? Promise.resolve();
  const run = prev.then(fn);
  // Once the last queued work is done the chain goes: an idle session keeps nothing here.
  const tail: Promise<void> = run.then(forget, forget);
  function forget(): void {
    if (session.data.get(CHAIN) === tail) session.data.delete(CHAIN);
  }
  session.data.set(CHAIN, tail);
  return run;
}

/** The bound client session a stanza came from, if it came from one. */
function clientOf(ev: StanzaEvent): C2SSession | undefined {
  const s = ev.origin;
  return s && s.kind === 'c2s' && s.jid ? s : undefined;
}

export default defineModule({
  name: 'presence',
  setup(ctx) {
    const host = ctx.host;
    const limits: RosterLimits = {
      items: ctx.option.number('max_roster_items', DEFAULT_ROSTER_LIMITS.items, { min: 1, integer: true }),
      itemBytes: ctx.option.number('max_roster_bytes', DEFAULT_ROSTER_LIMITS.itemBytes, { min: 4096, integer: true }),
      pending: ctx.option.number('max_pending_subscriptions', DEFAULT_ROSTER_LIMITS.pending, { min: 1, integer: true }),
      pendingBytes: DEFAULT_ROSTER_LIMITS.pendingBytes,
    };
    const rosters = new RosterStore(ctx.store<Roster>('roster', 'keyval'), (user) => host.sessions.ofUser(host.name, user).length > 0, limits);
    ctx.provide('roster-store', rosters);
    const presence = new PresenceBroadcast(ctx, rosters);
    const subscriptions = new Subscriptions(ctx, rosters, presence);

    // RFC 6121 §3.4: pre-approvals are honoured.
    ctx.hook('stream-features', ({ session, features }) => {
      if (session.state === 'authenticated') features.append(x('sub', { xmlns: NS.PRE_APPROVAL }));
    });

    ctx.hook('presence/outbound', async (ev) => {
      const session = clientOf(ev);
      if (!session || !ev.to) return undefined;
      const type = presenceType(ev.stanza);
      const to = ev.to;
      if (isSubscription(type)) {
        await serial(session, () => subscriptions.outbound(session.jid as Jid, ev.stanza, type, to));
        return true;
      }
      if (type === undefined || type === 'unavailable') await serial(session, () => presence.directed(session, ev.stanza, to));
      return undefined; // routed on as it is
    }, Priority.fallback);

    ctx.hook('presence/self', async (ev) => {
      const type = presenceType(ev.stanza);
      const session = clientOf(ev);
      if (!session) return true;
      if (type === undefined) await serial(session, () => presence.online(session, ev.stanza));
      else if (type === 'unavailable') await serial(session, () => presence.offline(session, ev.stanza));
      // Subscriptions, probes and errors with no `to` are meaningless: dropped.
      return true;
    }, Priority.fallback);

    /** Presence for a local account's bare JID, or a full JID treated as bare. */
    const forUser = async (ev: StanzaEvent, type: string | undefined, user: Jid): Promise<true> => {
      const from = ev.from;
      if (!from || type === 'error') return true; // an error to a bare JID has no one to go to (§8.5.2)
      if (isSubscription(type)) await subscriptions.inbound(user, ev.stanza, type, from);
      else if (type === 'probe') await presence.probe(from, user);
      else presence.deliverToBare(ev.stanza, user.local);
      return true;
    };

    ctx.hook('presence/bare', async (ev) => forUser(ev, presenceType(ev.stanza), ev.to as Jid), Priority.fallback);

    ctx.hook('presence/full', async (ev) => {
      const type = presenceType(ev.stanza);
      const to = ev.to as Jid;
      // Subscriptions and probes are about accounts, not resources (§3.1.3, §4.3.2).
      if (isSubscription(type) || type === 'probe') return forUser(ev, type, to.bare());
      // Available, unavailable and error go to that resource only, or nowhere (§8.5.3).
      host.sessions.get(to.domain, to.local, to.resource)?.send(ev.stanza);
      return true;
    }, Priority.fallback);

    // Presence to the server itself carries nothing it needs.
    ctx.hook('presence/host', async (ev) => {
      presenceType(ev.stanza);
      return true;
    }, Priority.fallback);

    ctx.hook('session-bound', ({ session }) => {
      // Load the roster now, so the first presence does not wait for storage.
      rosters.load(session.username).catch((err: unknown) => ctx.log.error({ err }, 'loading a roster failed'));
    });

    ctx.hook('session-closed', ({ session }) => {
      serial(session, () => presence.closed(session)).catch((err: unknown) => ctx.log.error({ err }, 'presence on disconnect failed'));
    });

    // An account is gone: its contacts stop expecting anything from it, then its roster goes.
    ctx.hook('user-deleted', async ({ host: name, username }) => {
      if (name !== host.name) return;
      const roster = await rosters.load(username);
      const user = new Jid(username, host.name).toString();
      const out: (void | Promise<void>)[] = [];
      for (const [contact, item] of Object.entries(roster.items)) {
        if (seesUser(item)) await presence.sendUnavailableTo(username, contact);
        if (seesContact(item) || item.ask) out.push(ctx.send(x('presence', { type: 'unsubscribe', from: user, to: contact })));
        if (seesUser(item)) out.push(ctx.send(x('presence', { type: 'unsubscribed', from: user, to: contact })));
      }
      // Unanswered requests are denied.
      for (const contact of Object.keys(roster.pending)) out.push(ctx.send(x('presence', { type: 'unsubscribed', from: user, to: contact })));
      await Promise.all(out);
      await rosters.delete(username);
    });
  },
});
