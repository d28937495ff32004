// Blocking command: a user blocks JIDs (an account, one resource, a domain and its subdomains);
// blocked entities get nothing from the user, presence included, and nothing from them reaches
// the user. References: XEP-0191 v1.3 (Blocking Command: §3 JID matching, §5 use cases),
// XEP-0016 §2.1 (matching order), RFC 6121 §4 (who may see presence).
//
// Registered under Prosody's name, 'blocklist'. One record per account in the 'blocklist' keyval
// store: the blocked JIDs (prepared), in the order they were blocked. Lists are cached in memory
// (bounded) so the checks on every stanza stay synchronous; a change is durable before anyone is
// told about it, and a request that fails a check changes nothing.
//
// Where the checks run (this host's accounts only):
// - stanzas for a local account ('pre-message|presence|iq/bare|full'): dropped when the recipient
//   blocked the sender (messages and iq get/set: service-unavailable; presence: silence), and
//   refused when a sender of this host blocked the recipient;
// - stanzas to other servers ('route/remote', ahead of s2s) and client presence with a `to`
//   ('presence/outbound', ahead of subscription handling): refused when the sender blocked them.
// A refused stanza from a client is answered with not-acceptable + <blocked/>; one the server
// made on the user's behalf (presence broadcast, probes, probe answers) is dropped.
// Errors leaving the user are never refused: they are the bounces the rules above produce.
// The 'pre-iq' events run before the iq-specific ones, so iqs the server answers for the user
// (vCard, disco of the account) are refused to a blocked contact as well.
// Known limit: between two VirtualHosts of one server only the recipient's list is checked.
import { randomBytes } from 'node:crypto';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { tryParseJid, type Jid } from '../jid/jid.js';
import { defineModule } from '../core/modules.js';
import { Priority } from '../core/events.js';
import { StanzaError, errorReply } from '../core/errors.js';
import type { StanzaEvent } from '../core/events-map.js';
import { waitForTurn } from '../core/turn.js';
import { availableSessions } from '../core/sessions.js';
import type { KeyValStore } from '../storage/store.js';
import { seesContact, seesUser } from './roster/roster-store.js';
import { readdress } from './presence/presence-broadcast.js';

/** Most JIDs one account may block. */
export const MAX_BLOCKED = 5000;
/** Most accounts whose lists stay in memory. */
const CACHE_MAX = 10_000;
/** Session flag: the client fetched its blocklist, so it gets pushes (XEP-0191 §5.3). */
const REQUESTED = 'blocking.requested';

/** What other modules may ask (offline delivery skips what a blocked sender left behind). */
export interface BlockCheck {
  isBlocked(user: string, jid: Jid): Promise<boolean>;
}

declare module '../core/items-map.js' {
  interface ItemMap {
    /** Whether a user blocks a JID (XEP-0191), for modules that store on the user's behalf. Provided by blocklist. */
    'block-check': BlockCheck;
  }
}

/**
 * True when a blocklist covers the address (XEP-0191 §3): user@domain/resource only that
 * resource, user@domain any resource, domain/resource only that resource, domain the domain,
 * everything at it and its subdomains.
 */
export function covers(list: ReadonlySet<string>, j: Jid): boolean {
  if (list.size === 0) return false;
  if (j.resource !== '' && list.has(j.toString())) return true;
  if (j.local !== '' && list.has(j.bareString())) return true;
  for (let d = j.domain; ;) {
    if (list.has(d)) return true;
    const dot = d.indexOf('.');
    if (dot < 0) return false;
    d = d.slice(dot + 1);
  }
}

/** The JIDs of a <block/> or <unblock/>, all checked before anything changes. */
export function parseItems(payload: Element): Jid[] {
  const out: Jid[] = [];
  for (const item of payload.elements()) {
    if (item.local !== 'item' || (item.xmlns !== undefined && item.xmlns !== NS.BLOCKING)) {
      throw new StanzaError('bad-request', `<${item.local}/> does not belong in <${payload.local}/>`);
    }
    const raw = item.attrs.jid;
    if (raw === undefined) throw new StanzaError('bad-request', 'an <item/> has no jid');
    const jid = tryParseJid(raw);
    if (!jid) throw new StanzaError('jid-malformed', `'${raw.length > 64 ? `${raw.slice(0, 64)}…` : raw}' is not a valid JID`);
    out.push(jid);
  }
  return out;
}

/** Blocklists: storage, a bounded cache, and one change at a time per account. */
class Blocklists {
  private readonly cache = new Map<string, ReadonlySet<string>>();
  private readonly loading = new Map<string, Promise<ReadonlySet<string>>>();
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Bumped by every change: a read that started before one must not be cached. */
  private generation = 0;

  constructor(private readonly store: KeyValStore<string[]>) {}

  cached(user: string): ReadonlySet<string> | undefined {
    return this.cache.get(user);
  }

  load(user: string): Promise<ReadonlySet<string>> {
    const hit = this.cache.get(user);
    if (hit) return Promise.resolve(hit);
    let p = this.loading.get(user);
    if (!p) {
      const gen = this.generation;
      const read = this.store.get(user).then((v) => {
        const again = this.cache.get(user);
        if (again) return again;
        const set: ReadonlySet<string> = new Set(Array.isArray(v) ? v.filter((s) => typeof s === 'string') : []);
        if (gen === this.generation) this.remember(user, set);
        return set;
      });
      const done = (): void => { if (this.loading.get(user) === read) this.loading.delete(user); };
      read.then(done, done);
      this.loading.set(user, read);
      p = read;
    }
    return p;
  }

  /** Change a list: `fn` returns the new list or throws (then nothing is stored). */
  modify(user: string, fn: (current: ReadonlySet<string>) => ReadonlySet<string>): Promise<{ before: ReadonlySet<string>; after: ReadonlySet<string> }> {
    const run = (this.queues.get(user) ?? Promise.resolve()).then(async () => {
      const before = await this.load(user);
      const after = fn(before);
      await this.store.set(user, after.size ? [...after] : undefined);
      this.generation++;
      this.remember(user, after);
      return { before, after };
    });
    const tail = run.catch(() => undefined);
    this.queues.set(user, tail);
    void tail.then(() => { if (this.queues.get(user) === tail) this.queues.delete(user); });
    return run;
  }

  private remember(user: string, set: ReadonlySet<string>): void {
    if (!this.cache.has(user) && this.cache.size >= CACHE_MAX) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(user, set);
  }
}

const sameAccount = (a: Jid, b: Jid): boolean => a.local === b.local && a.domain === b.domain;

export default defineModule({
  name: 'blocklist',
  depends: ['presence'],
  setup(ctx) {
    const host = ctx.host;
    const lists = new Blocklists(ctx.store<string[]>('blocklist', 'keyval'));
    ctx.feature(NS.BLOCKING);
    ctx.provide('block-check', { isBlocked: async (user, jid) => covers(await lists.load(user), jid) } satisfies BlockCheck);
    /** Unavailable presence sent when blocking: the sender's own list must let it pass. */
    const farewells = new WeakSet<Element>();

    /** Does `user` block `jid`? Synchronous while the list is in memory. */
    const blocks = (user: string, jid: Jid): boolean | Promise<boolean> => {
      const list = lists.cached(user);
      return list ? covers(list, jid) : lists.load(user).then((l) => covers(l, jid));
    };
    const when = <T>(v: boolean | Promise<boolean>, then: (b: boolean) => T): T | Promise<T> =>
      typeof v === 'boolean' ? then(v) : v.then(then);

    /** The user sent to someone they blocked (XEP-0191 §5.3): tell the client, drop the rest. */
    /** Refuse with an error to the sender; a pipelined message's error waits for its turn (src/core/turn.ts). */
    const refuse = (ev: StanzaEvent): true | Promise<true> => {
      const wait = waitForTurn(ev.turn);
      return wait ? wait.then(() => refuseNow(ev)) : refuseNow(ev);
    };
    const refuseNow = (ev: StanzaEvent): true => {
      const { origin, from, stanza } = ev;
      const type = stanza.attrs.type;
      if (origin?.kind === 'c2s' && from && origin.jid?.equals(from) && !(stanza.name === 'iq' && type === 'result')) {
        const err = new StanzaError('not-acceptable', 'you have blocked this address', 'cancel', x('blocked', { xmlns: NS.BLOCKING_ERRORS }));
        const reply = errorReply(stanza, err);
        if (reply) origin.send(reply);
      }
      return true;
    };

    /** Someone the user blocked sent to the user (XEP-0191 §5.3): presence and results vanish. */
    const drop = (ev: StanzaEvent): true | Promise<never> => {
      const kind = ev.stanza.name;
      const type = ev.stanza.attrs.type;
      if (kind === 'presence' || type === 'error' || (kind === 'iq' && type !== 'get' && type !== 'set')) return true;
      // Rejected, not thrown: the router turns it into the error reply.
      return Promise.reject(new StanzaError('service-unavailable'));
    };

    /** Does the user of this host who sent it block where it goes? */
    const sentBlocked = (ev: StanzaEvent): boolean | Promise<boolean> => {
      const { from, to, stanza } = ev;
      if (!from || !to || from.domain !== host.name || from.local === '' || sameAccount(from, to)) return false;
      if (stanza.attrs.type === 'error' || farewells.has(stanza)) return false;
      return blocks(from.local, to);
    };

    /** Stanzas for an account of this host. */
    const toLocal = (ev: StanzaEvent): unknown => when(sentBlocked(ev), (out) => {
      if (out) return refuse(ev);
      const { from, to } = ev;
      // The server itself and the account's own resources are never blocked.
      if (!from || !to || to.local === '' || sameAccount(from, to) || (from.local === '' && from.domain === host.name)) return undefined;
      return when(blocks(to.local, from), (b) => (b ? drop(ev) : undefined));
    });
    for (const kind of ['message', 'presence', 'iq'] as const) {
      ctx.hook(`pre-${kind}/bare`, toLocal, Priority.policy);
      ctx.hook(`pre-${kind}/full`, toLocal, Priority.policy);
    }
    /** Stanzas leaving for other servers, and client presence before its subscription handling. */
    const leaving = (ev: StanzaEvent): unknown => when(sentBlocked(ev), (out) => (out ? refuse(ev) : undefined));
    ctx.hook('route/remote', leaving, Priority.policy);
    ctx.hook('route/other-host', leaving, Priority.policy);
    ctx.hook('presence/outbound', leaving, Priority.policy);

    /** Blocklist pushes to every resource that fetched the list (XEP-0191 §5.3–§5.5). */
    const push = (user: string, payload: Element): void => {
      for (const s of host.sessions.ofUser(host.name, user)) {
        if (s.state !== 'bound' || !s.jid || s.data.get(REQUESTED) !== true) continue;
        s.send(x('iq', { type: 'set', id: `block-${randomBytes(6).toString('base64url')}`, to: s.jid.toString() }, payload));
      }
    };

    /**
     * Presence after a change, for roster contacts allowed to see the user (RFC 6121 §4): the
     * newly blocked get unavailable from each available resource; the unblocked get its current
     * presence, and are probed when the user sees them (their presence was dropped meanwhile).
     */
    const announce = async (user: Jid, before: ReadonlySet<string>, after: ReadonlySet<string>): Promise<void> => {
      const rosters = ctx.items('roster-store')[0];
      if (!rosters) return;
      const roster = await rosters.load(user.local);
      const online = availableSessions(host.sessions.ofUser(host.name, user.local));
      const out: (void | Promise<void>)[] = [];
      const route = (stanza: Element): void => { out.push(ctx.send(stanza)); };
      for (const [contact, item] of Object.entries(roster.items)) {
        const c = tryParseJid(contact);
        if (!c) continue;
        const was = covers(before, c);
        const is = covers(after, c);
        if (was === is) continue;
        if (is && seesUser(item)) {
          for (const s of online) {
            const p = x('presence', { type: 'unavailable', from: (s.jid as Jid).toString(), to: contact });
            farewells.add(p);
            route(p);
          }
        } else if (!is) {
          if (seesUser(item)) for (const s of online) route(readdress(s.presence as Element, (s.jid as Jid).toString(), contact));
          if (seesContact(item)) route(x('presence', { type: 'probe', from: user.toString(), to: contact }));
        }
      }
      await Promise.all(out);
    };

    ctx.iq('get', 'self', NS.BLOCKING, 'blocklist', async (ev) => {
      if (ev.origin?.kind === 'c2s') ev.origin.data.set(REQUESTED, true);
      const list = await lists.load((ev.from as Jid).local);
      return x('blocklist', { xmlns: NS.BLOCKING }, ...[...list].map((jid) => x('item', { jid })));
    });

    ctx.iq('set', 'self', NS.BLOCKING, 'block', async (ev) => {
      const user = (ev.from as Jid).bare();
      const items = parseItems(ev.stanza.getChild('block', NS.BLOCKING) as Element);
      if (items.length === 0) throw new StanzaError('bad-request', 'a block names at least one JID in an <item/>');
      if (items.some((j) => sameAccount(j, user))) throw new StanzaError('not-acceptable', 'an account cannot block itself');
      const { before, after } = await lists.modify(user.local, (current) => {
        const next = new Set(current);
        for (const j of items) next.add(j.toString());
        if (next.size > MAX_BLOCKED) throw new StanzaError('not-allowed', `at most ${MAX_BLOCKED} addresses can be blocked`);
        return next;
      });
      push(user.local, x('block', { xmlns: NS.BLOCKING }, ...items.map((j) => x('item', { jid: j.toString() }))));
      await announce(user, before, after);
      return undefined;
    });

    ctx.iq('set', 'self', NS.BLOCKING, 'unblock', async (ev) => {
      const user = (ev.from as Jid).bare();
      const items = parseItems(ev.stanza.getChild('unblock', NS.BLOCKING) as Element);
      // No items: unblock everyone (§5.5).
      const { before, after } = await lists.modify(user.local, (current) => {
        if (items.length === 0) return new Set<string>();
        const next = new Set(current);
        for (const j of items) next.delete(j.toString());
        return next;
      });
      push(user.local, x('unblock', { xmlns: NS.BLOCKING }, ...items.map((j) => x('item', { jid: j.toString() }))));
      await announce(user, before, after);
      return undefined;
    });

    ctx.hook('user-deleted', async ({ host: name, username }) => {
      if (name !== host.name) return undefined;
      await lists.modify(username, () => new Set<string>());
      return undefined;
    });
  },
});
