// Rosters: the data model, its storage, the in-memory cache of online users' rosters, and
// roster pushes. Shared by the presence module (which owns it) and the roster module.
// References: RFC 6121 §2.1 (roster items), §2.1.6 (pushes), §2.6 (versioning), §3.4 (pre-approval).
//
// One stored record per user ('roster' keyval store). Rosters of users with a bound session
// stay in memory so presence broadcast never touches storage; every change is written through
// and awaited before anyone is told about it.
import { randomBytes } from 'node:crypto';
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { fromJSON, toJSON, type ElementJSON } from '../../xml/json.js';
import type { KeyValStore } from '../../storage/store.js';
import type { C2SSession } from '../../core/session.js';
import { StanzaError } from '../../core/errors.js';
import type { Subscription } from '../presence/subscription.js';
import { storedRequest } from '../presence/subscription-request.js';
import { RosterSizes } from './roster-sizes.js';

/**
 * How large one stored roster may grow. Every change rewrites the whole record, so it stays
 * bounded in bytes: the items (which the user controls) and the pending requests (which anyone
 * can send) each have their own budget, so a flood of requests never stops the user adding contacts.
 */
export interface RosterLimits {
  /** Most items (max_roster_items). */
  items: number;
  /** Most bytes of items as stored JSON (max_roster_bytes). */
  itemBytes: number;
  /** Most unanswered subscription requests (max_pending_subscriptions). */
  pending: number;
  /** Most bytes of unanswered requests as stored JSON. */
  pendingBytes: number;
}

/** Defaults of the roster limits; each request is stored in at most a few KiB (./subscription-request.ts). */
export const DEFAULT_ROSTER_LIMITS: Readonly<RosterLimits> = { items: 5000, itemBytes: 1024 * 1024, pending: 500, pendingBytes: 512 * 1024 };

/** A subscription request that did not fit the pending budget (the caller drops it, unanswered). */
export class PendingFullError extends StanzaError {
  constructor() {
    super('resource-constraint', 'too many unanswered subscription requests');
  }
}

export interface RosterItem {
  subscription: Subscription;
  /** Pending-out: the user asked to see the contact's presence (shown as ask='subscribe'). */
  ask?: true;
  /** Pre-approved: a subscription request from the contact is approved at once (§3.4). */
  approved?: true;
  name?: string;
  groups: string[];
}

/** A user's roster as stored. Keys are prepared bare JIDs. */
export interface Roster {
  /** Version counter (§2.6): increases with every change to the items. 0 = never stored. */
  version: number;
  items: Record<string, RosterItem>;
  /**
   * Pending-in subscription requests (§3.1.3), kept until the user answers them, whether or not
   * the contact is in the roster. Not shown in the roster; redelivered on available presence.
   */
  pending: Record<string, ElementJSON>;
}

/** A map keyed by JIDs: no prototype, so '__proto__' and 'constructor' are plain keys. */
function table<T>(from?: Record<string, T>): Record<string, T> {
  const t = Object.create(null) as Record<string, T>;
  if (from && typeof from === 'object') for (const k of Object.keys(from)) t[k] = from[k] as T;
  return t;
}

/** The roster of a user who never had one. */
export function emptyRoster(): Roster {
  return { version: 0, items: table(), pending: table() };
}

/**
 * The roster of every user who has none stored, shared until their first change (modify() gives
 * them a roster of their own): an online user's roster stays in memory, and two empty tables
 * cost ~0.4 KB each. Frozen, so a write that bypasses modify() throws instead of reaching everyone.
 */
const NO_ROSTER: Roster = Object.freeze({ version: 0, items: Object.freeze(table<RosterItem>()), pending: Object.freeze(table<ElementJSON>()) });

function normalise(v: Roster | undefined): Roster {
  if (!v || typeof v !== 'object') return NO_ROSTER;
  const pending = table<ElementJSON>();
  // Older versions stored requests whole: what is kept of them now is cut the same way.
  for (const [k, req] of Object.entries(table(v.pending))) {
    const el = typeof req === 'object' && req !== null && typeof req.n === 'string' ? fromJSON(req) : x('presence');
    pending[k] = toJSON(storedRequest(el, el.attrs.from ?? k, el.attrs.to ?? ''));
  }
  return { version: typeof v.version === 'number' ? v.version : 0, items: table(v.items), pending };
}

/**
 * Next version number. A roster's first version is the current time in milliseconds, so a
 * roster deleted and created again (account deleted and re-registered) never repeats a
 * version a client may have cached for the old one.
 */
function nextVersion(v: number): number {
  return v === 0 ? Math.max(Date.now(), 1) : v + 1;
}

/** What a change to a roster did (see RosterStore.modify). */
export interface RosterTx {
  /** An item changed: increase the version and return it. */
  bump(): string;
  /** Something unversioned changed: store it. */
  touch(): void;
}

/** Roster storage with an in-memory cache for the rosters of users who are online. */
export class RosterStore {
  private readonly cache = new Map<string, Roster>();
  private readonly loading = new Map<string, Promise<Roster>>();
  /** Operations in flight per user: their roster stays cached until they finish. */
  private readonly pins = new Map<string, number>();
  /** Sizes of the rosters in memory, counted once at load and kept up to date by modify(). */
  private readonly sizes = new WeakMap<Roster, RosterSizes>();

  /** `online(user)` tells whether the user has a bound session (its roster stays cached). */
  constructor(
    private readonly store: KeyValStore<Roster>,
    private readonly online: (user: string) => boolean,
    private readonly limits: Readonly<RosterLimits> = DEFAULT_ROSTER_LIMITS,
  ) {}

  /** The cached roster of a user, if loaded. */
  cached(user: string): Roster | undefined {
    return this.cache.get(user);
  }

  /** A user's roster: from memory when cached, else from storage (cached while the user is online). */
  async load(user: string): Promise<Roster> {
    const hit = this.cache.get(user);
    if (hit) return hit;
    let p = this.loading.get(user);
    if (!p) {
      p = this.store.get(user).then(normalise);
      this.loading.set(user, p);
      const done = (): void => { this.loading.delete(user); };
      p.then(done, done);
    }
    const r = await p;
    // Concurrent loaders share one object; whoever resumes first caches it.
    const again = this.cache.get(user);
    if (again) return again;
    if (this.keep(user)) this.cache.set(user, r);
    return r;
  }

  /**
   * Change what a user's roster holds for one contact (its item and its pending request). `fn`
   * mutates the roster synchronously and tells what it did through `tx`: `bump()` when an item
   * changed (returns the new version for the push), `touch()` when only unversioned state
   * (pending requests) changed. A change that would take the roster past its limits is undone
   * and throws: not-allowed past the item count (RFC 6121 §2.3.3), resource-constraint past the
   * item bytes, PendingFullError past the pending budget. The change is durable when the
   * returned promise resolves.
   */
  async modify<T>(user: string, contact: string, fn: (r: Roster, tx: RosterTx) => T): Promise<T> {
    this.pins.set(user, (this.pins.get(user) ?? 0) + 1);
    try {
      let r = await this.load(user);
      if (r === NO_ROSTER) {
        // The first change: the user's own roster, which changes running beside this one share
        // (the pin keeps it cached).
        const mine = this.cache.get(user);
        r = mine !== undefined && mine !== NO_ROSTER ? mine : emptyRoster();
      }
      this.cache.set(user, r);
      const sizes = this.sizesOf(r);
      // Only this contact's entries change: keeping them (not the whole roster) is enough to undo.
      const before = { version: r.version, item: copy(r.items[contact]), pending: copy(r.pending[contact]) };
      const undo = (): void => {
        r.version = before.version;
        restore(r.items, contact, before.item);
        restore(r.pending, contact, before.pending);
      };
      let dirty = false;
      const out = fn(r, {
        bump: () => {
          dirty = true;
          r.version = nextVersion(r.version);
          return String(r.version);
        },
        touch: () => { dirty = true; },
      });
      if (!dirty) return out;
      const next = sizes.after(contact, before.item, before.pending, r.items[contact], r.pending[contact]);
      const over = next.over(sizes, this.limits);
      if (over) {
        undo();
        throw over === 'pending' ? new PendingFullError()
          : over === 'items' ? new StanzaError('not-allowed', `the roster is full (${this.limits.items} items)`)
          : new StanzaError('resource-constraint', `the roster is full (${this.limits.itemBytes} bytes)`);
      }
      this.sizes.set(r, next);
      try {
        await this.store.set(user, r);
      } catch (err) {
        // Nobody was told about the change: memory goes back to what storage has.
        undo();
        this.sizes.set(r, sizes);
        throw err;
      }
      return out;
    } finally {
      const n = (this.pins.get(user) ?? 1) - 1;
      if (n > 0) this.pins.set(user, n);
      else this.pins.delete(user);
      this.release(user);
    }
  }

  private sizesOf(r: Roster): RosterSizes {
    let s = this.sizes.get(r);
    if (!s) this.sizes.set(r, (s = RosterSizes.of(r.items, r.pending)));
    return s;
  }

  /** Forget a cached roster once its user is offline and nothing is working on it. */
  release(user: string): void {
    if (!this.keep(user)) this.cache.delete(user);
  }

  /** Delete a user's roster from memory and storage. */
  async delete(user: string): Promise<void> {
    this.cache.delete(user);
    await this.store.set(user, undefined);
  }

  private keep(user: string): boolean {
    return this.pins.has(user) || this.online(user);
  }
}

declare module '../../core/items-map.js' {
  interface ItemMap {
    /** The host's rosters; one, opened by presence (loaded on every host). */
    'roster-store': RosterStore;
  }
}

/** A deep copy of a stored entry as JSON text (undefined stays undefined). */
function copy(v: unknown): string | undefined {
  return v === undefined ? undefined : JSON.stringify(v);
}

/** Put a copied entry back, or remove the key when there was none. */
function restore<T>(t: Record<string, T>, key: string, saved: string | undefined): void {
  if (saved === undefined) delete t[key];
  else t[key] = JSON.parse(saved) as T;
}

/** True when the contact receives the user's presence (subscription from or both). */
export function seesUser(item: RosterItem | undefined): boolean {
  return item !== undefined && (item.subscription === 'from' || item.subscription === 'both');
}

/** True when the user receives the contact's presence (subscription to or both). */
export function seesContact(item: RosterItem | undefined): boolean {
  return item !== undefined && (item.subscription === 'to' || item.subscription === 'both');
}

/** The `<item/>` of a roster result or push; undefined item = removed. */
export function itemElement(jid: string, item: RosterItem | undefined): Element {
  if (!item) return x('item', { jid, subscription: 'remove' });
  const el = x('item', {
    jid,
    name: item.name,
    subscription: item.subscription,
    ask: item.ask ? 'subscribe' : undefined,
    approved: item.approved ? 'true' : undefined,
  });
  for (const g of item.groups) el.append(x('group', null, g));
  return el;
}

/** The whole roster as a `<query/>` result. */
export function rosterQuery(r: Roster): Element {
  const q = x('query', { xmlns: NS.ROSTER, ver: String(r.version) });
  for (const jid of Object.keys(r.items)) q.append(itemElement(jid, r.items[jid]));
  return q;
}

/** Send a roster push (§2.1.6) to every interested resource among `sessions`. */
export function pushItem(sessions: readonly C2SSession[], jid: string, item: RosterItem | undefined, ver: string): void {
  for (const s of sessions) {
    if (!s.rosterInterested || !s.jid || s.state !== 'bound') continue;
    s.send(x('iq', { type: 'set', id: `push-${randomBytes(6).toString('base64url')}`, to: s.jid.toString() },
      x('query', { xmlns: NS.ROSTER, ver }, itemElement(jid, item))));
  }
}
