// Presence notifications: broadcast to subscribers and the user's own resources, probes and their
// answers, directed presence, going offline. References: RFC 6121 §4.2 (initial presence), §4.3
// (probes), §4.4 (subsequent presence), §4.5 (unavailable), §4.6 (directed), §4.7.2.3 (priority).
import { Element, x } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { fromJSON } from '../../xml/json.js';
import type { Jid } from '../../jid/jid.js';
import { StanzaError } from '../../core/errors.js';
import { availableSessions } from '../../core/sessions.js';
import type { C2SSession } from '../../core/session.js';
import type { ModuleContext, ModuleHost } from '../../core/modules.js';
import { seesContact, seesUser, type Roster, type RosterStore } from '../roster/roster-store.js';

/** Directed-presence targets remembered per session (bounded: a client cannot grow it forever). */
const DIRECTED = 'presence.directed';
const MAX_DIRECTED = 1000;

/** A copy of a presence stanza with new addresses (children are shared: they are never mutated). */
export function readdress(p: Element, from: string, to: string | undefined): Element {
  const attrs: Record<string, string> = { ...p.attrs, from };
  if (to === undefined) delete attrs.to;
  else attrs.to = to;
  return new Element(p.name, attrs, p.children);
}

/** The `<priority/>` of a presence (RFC 6121 §4.7.2.3): an integer from −128 to 127, 0 when absent. */
export function parsePriority(p: Element): number {
  const el = p.getChildren('priority').find((c) => c.xmlns === undefined || c.xmlns === NS.CLIENT);
  if (!el) return 0;
  const s = el.text().trim();
  const n = /^[+-]?\d{1,4}$/.test(s) ? Number(s) : NaN;
  if (!(n >= -128 && n <= 127)) throw new StanzaError('bad-request', 'priority must be an integer from -128 to 127');
  return n;
}

export class PresenceBroadcast {
  constructor(private readonly ctx: ModuleContext, private readonly rosters: RosterStore) {}

  private get host(): ModuleHost { return this.ctx.host; }

  private route(stanza: Element): void | Promise<void> {
    return this.ctx.send(stanza);
  }

  private available(user: string): C2SSession[] {
    return availableSessions(this.host.sessions.ofUser(this.host.name, user));
  }

  /** Available presence from a client with no `to` (§4.2 initial, §4.4 subsequent). */
  async online(session: C2SSession, stanza: Element): Promise<void> {
    const jid = session.jid as Jid;
    const priority = parsePriority(stanza);
    const roster = await this.rosters.load(jid.local);
    if (session.state !== 'bound') return;
    const initial = session.presence === undefined;
    const p = readdress(stanza, jid.toString(), undefined);
    // Available before the probes go out, so their answers reach this resource. Kept as a copy:
    // a parsed or appended-to element has room for 17 children at each level that has any
    // (~0.15 KB each), held for the session's life; a copy's arrays are their exact size.
    session.presence = p.clone();
    session.priority = priority;
    await this.broadcast(session, p, roster, true);
    if (!initial) return;
    const probes: (void | Promise<void>)[] = [];
    const bare = jid.bare().toString();
    for (const contact of Object.keys(roster.items)) {
      if (seesContact(roster.items[contact])) probes.push(this.route(x('presence', { type: 'probe', from: bare, to: contact })));
    }
    // The new resource learns about the user's other available resources.
    for (const s of this.available(jid.local)) {
      if (s !== session && s.presence && s.jid) session.send(readdress(s.presence, s.jid.toString(), jid.toString()));
    }
    // Requests nobody answered yet come again (§3.1.3).
    for (const req of Object.values(roster.pending)) session.send(fromJSON(req));
    await Promise.all(probes);
    await this.ctx.fire('session-available', { session });
  }

  /** Unavailable presence from a client with no `to` (§4.5). */
  async offline(session: C2SSession, stanza: Element): Promise<void> {
    const jid = session.jid as Jid;
    const p = readdress(stanza, jid.toString(), undefined);
    const wasAvailable = session.presence !== undefined;
    session.presence = undefined;
    session.priority = 0;
    if (wasAvailable) await this.broadcast(session, p, await this.rosters.load(jid.local), false);
    await this.undirect(session, p);
  }

  /** A bound session ended: tell everyone who saw it that it is gone, and let its roster go. */
  async closed(session: C2SSession): Promise<void> {
    const jid = session.jid;
    if (!jid) return;
    try {
      await this.offline(session, x('presence', { type: 'unavailable' }));
    } finally {
      this.rosters.release(jid.local);
    }
  }

  /** Send a notification to subscribers (from/both) and to the user's available resources. */
  private async broadcast(session: C2SSession, p: Element, roster: Roster, self: boolean): Promise<void> {
    const jid = session.jid as Jid;
    const from = jid.toString();
    const out: (void | Promise<void>)[] = [];
    for (const contact of Object.keys(roster.items)) {
      if (seesUser(roster.items[contact])) out.push(this.route(readdress(p, from, contact)));
    }
    for (const s of this.host.sessions.ofUser(this.host.name, jid.local)) {
      if (!s.jid || (s === session ? !self : s.presence === undefined)) continue;
      s.send(readdress(p, from, s.jid.toString()));
    }
    await Promise.all(out);
  }

  /**
   * Directed presence from a client (§4.6): remember who got available presence outside the
   * broadcast, so they hear about it when the resource goes offline. The stanza is routed on
   * by the caller.
   */
  async directed(session: C2SSession, stanza: Element, to: Jid): Promise<void> {
    const jid = session.jid as Jid;
    if (to.local === jid.local && to.domain === jid.domain) return;
    let set = session.data.get(DIRECTED) as Set<string> | undefined;
    const target = to.toString();
    if (stanza.attrs.type === 'unavailable') {
      set?.delete(target);
      return;
    }
    // A subscriber of an available resource hears about it going offline anyway.
    const roster = await this.rosters.load(jid.local);
    if (session.presence !== undefined && seesUser(roster.items[to.bare().toString()])) return;
    if (!set) session.data.set(DIRECTED, (set = new Set()));
    if (set.size < MAX_DIRECTED) set.add(target);
  }

  /** Send unavailable to every directed-presence target of the session and forget them. */
  private async undirect(session: C2SSession, p: Element): Promise<void> {
    const set = session.data.get(DIRECTED) as Set<string> | undefined;
    if (!set || set.size === 0) return;
    session.data.delete(DIRECTED);
    const from = (session.jid as Jid).toString();
    await Promise.all([...set].map((to) => this.route(readdress(p, from, to))));
  }

  /**
   * A probe for a local user's presence (§4.3.2): each available resource answers with its last
   * presence, or the bare JID answers unavailable. Probers who may not see the user get nothing.
   */
  async probe(from: Jid, user: Jid): Promise<void> {
    const self = from.local === user.local && from.domain === user.domain;
    const sessions = this.available(user.local);
    if (!self) {
      if (sessions.length === 0 && !(await this.host.accounts.exists(user.local))) return;
      const roster = await this.rosters.load(user.local);
      if (!seesUser(roster.items[from.bare().toString()])) return;
    }
    const to = from.toString();
    if (sessions.length === 0) {
      await this.route(x('presence', { type: 'unavailable', from: user.bare().toString(), to }));
      return;
    }
    await Promise.all(sessions.map((s) => this.route(readdress(s.presence as Element, (s.jid as Jid).toString(), to))));
  }

  /** Presence to a local bare JID (not a subscription or probe): every available resource gets it. */
  deliverToBare(stanza: Element, user: string): void {
    for (const s of this.available(user)) s.send(stanza);
  }

  /** The contact may now see the user: send the user's current presence to it (§3.1.5, §3.4.2). */
  async sendPresenceTo(user: string, contact: string): Promise<void> {
    await Promise.all(this.available(user).map((s) => this.route(readdress(s.presence as Element, (s.jid as Jid).toString(), contact))));
  }

  /** The contact may no longer see the user: unavailable from each available resource (§3.2.2, §3.3.3). */
  async sendUnavailableTo(user: string, contact: string): Promise<void> {
    await Promise.all(this.available(user).map((s) => this.route(x('presence', { type: 'unavailable', from: (s.jid as Jid).toString(), to: contact }))));
  }
}
