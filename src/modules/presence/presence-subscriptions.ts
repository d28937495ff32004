// Subscription stanzas as the server handles them: those a local user sends (outbound) and those
// arriving for a local user (inbound, from local or, later, remote senders). The state machine is
// in ./subscription.ts; this file applies it to stored rosters and does the talking.
// References: RFC 6121 §3.1–§3.4, Appendix A.
import { x, type Element } from '../../xml/element.js';
import { toJSON, type ElementJSON } from '../../xml/json.js';
import type { Jid } from '../../jid/jid.js';
import type { ModuleContext, ModuleHost } from '../../core/modules.js';
import { availableSessions } from '../../core/sessions.js';
import { inbound, outbound, type Outcome, type SubState, type SubscriptionType } from './subscription.js';
import { PendingFullError, pushItem, type Roster, type RosterItem, type RosterStore, type RosterTx } from '../roster/roster-store.js';
import { storedRequest } from './subscription-request.js';
import { readdress, type PresenceBroadcast } from './presence-broadcast.js';

interface Applied { outcome: Outcome; ver: string | undefined; item: RosterItem | undefined }

/** The subscription state of `contact` in a roster. */
export function stateOf(r: Roster, contact: string): SubState {
  const item = r.items[contact];
  return {
    subscription: item?.subscription ?? 'none',
    out: item?.ask === true,
    in: Object.hasOwn(r.pending, contact),
    approved: item?.approved === true,
  };
}

export class Subscriptions {
  constructor(private readonly ctx: ModuleContext, private readonly rosters: RosterStore, private readonly presence: PresenceBroadcast) {}

  private get host(): ModuleHost { return this.ctx.host; }

  private route(stanza: Element): void | Promise<void> {
    return this.ctx.send(stanza);
  }

  private push(user: string, contact: string, a: Applied): void {
    if (a.ver !== undefined) pushItem(this.host.sessions.ofUser(this.host.name, user), contact, a.item, a.ver);
  }

  /**
   * A subscription stanza from a local user to a contact (§3.1.2, §3.2.2, §3.3.2, §3.4.1). It
   * leaves stamped with both bare JIDs (§3.1.2), and only when the state tables say so.
   */
  async outbound(user: Jid, stanza: Element, type: SubscriptionType, contact: Jid): Promise<void> {
    const u = user.bare();
    const c = contact.bare();
    // Subscribing to oneself means nothing: a user always sees their own resources.
    if (u.equals(c)) return;
    const key = c.toString();
    const a = await this.rosters.modify(u.local, key, (r, tx) => apply(r, tx, key, outbound(type, stateOf(r, key)), undefined));
    this.push(u.local, key, a);
    if (a.outcome.pass) await this.route(readdress(stanza, u.toString(), key));
    if (a.outcome.sendPresence) await this.presence.sendPresenceTo(u.local, key);
    if (a.outcome.sendUnavailable) await this.presence.sendUnavailableTo(u.local, key);
  }

  /** A subscription stanza for a local user from a contact (§3.1.3, §3.1.6, §3.2.3, §3.3.3, §3.4.2). */
  async inbound(user: Jid, stanza: Element, type: SubscriptionType, contact: Jid): Promise<void> {
    const u = user.bare();
    const c = contact.bare();
    if (u.equals(c)) return;
    const key = c.toString();
    const online = this.host.sessions.ofUser(this.host.name, u.local);
    if (online.length === 0 && !(await this.host.accounts.exists(u.local))) {
      // No such user (RFC 6121 §8.5.1): a request is refused, anything else is dropped.
      if (type === 'subscribe') await this.route(x('presence', { type: 'unsubscribed', from: u.toString(), to: key }));
      return;
    }
    const request = readdress(stanza, key, u.toString());
    // What is stored is cut to who asked and a short status and nick; online resources get it whole.
    const kept = type === 'subscribe' ? toJSON(storedRequest(stanza, key, u.toString())) : undefined;
    let a: Applied;
    try {
      a = await this.rosters.modify(u.local, key, (r, tx) => apply(r, tx, key, inbound(type, stateOf(r, key)), kept));
    } catch (err) {
      // Too many requests already wait: this one is dropped, unanswered, like any presence the
      // server cannot take (an error would tell a stranger about the user's pending list).
      if (!(err instanceof PendingFullError)) throw err;
      this.ctx.log.debug({ user: u.local }, 'subscription request dropped: the pending list is full');
      return;
    }
    this.push(u.local, key, a);
    if (a.outcome.pass) {
      for (const s of availableSessions(this.host.sessions.ofUser(this.host.name, u.local))) s.send(request);
    }
    if (a.outcome.autoReply) await this.route(x('presence', { type: 'subscribed', from: u.toString(), to: key }));
    if (a.outcome.sendPresence) await this.presence.sendPresenceTo(u.local, key);
    if (a.outcome.sendUnavailable) await this.presence.sendUnavailableTo(u.local, key);
  }
}

/**
 * Write a transition into the roster: create the item when the new state needs one (never for a
 * bare pending-in request, §3.1.3), keep or drop the stored request, and bump the version when
 * the item as the client sees it changed.
 */
function apply(r: Roster, tx: RosterTx, key: string, outcome: Outcome, request: ElementJSON | undefined): Applied {
  const next = outcome.next;
  const before = r.items[key];
  let item = before;
  if (!item && (next.subscription !== 'none' || next.out || next.approved)) {
    item = r.items[key] = { subscription: 'none', groups: [] };
  }
  let ver: string | undefined;
  if (item) {
    const changed = !before || item.subscription !== next.subscription || (item.ask === true) !== next.out || (item.approved === true) !== next.approved;
    item.subscription = next.subscription;
    if (next.out) item.ask = true;
    else delete item.ask;
    if (next.approved) item.approved = true;
    else delete item.approved;
    if (changed) ver = tx.bump();
  }
  const pending = Object.hasOwn(r.pending, key);
  if (next.in && !pending && request) {
    r.pending[key] = request;
    tx.touch();
  } else if (!next.in && pending) {
    delete r.pending[key];
    tx.touch();
  }
  return { outcome, ver, item };
}
