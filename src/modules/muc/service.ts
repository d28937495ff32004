// The MUC service of one component: its rooms (created on first join, or loaded from storage
// when persistent), the limits on them, who may create them, and the stanza plumbing every
// part shares (sending, saving a room, destroying one).
// References: XEP-0045 §10.1 (creating rooms), §10.9 (destroying), Prosody's mod_muc options.
import type { Element } from '../../xml/element.js';
import { x } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { KeyValStore } from '../../storage/store.js';
import { Room, type Occupant, type StoredRoom } from './room.js';
import { normalise, type RoomConfig } from './room-config.js';
import type { Affiliation } from './roles.js';
import { occupantId } from './occupant-id.js';
import { TokenBucket } from './rate.js';
import { addressed, occupantPresence } from './broadcast.js';
import { PresenceBudget, SessionMap } from './presence-budget.js';
import type { RoomArchive } from './room-archive.js';

/** The component's limits (docs/limits.md, options in docs/configuration.md). */
export interface MucLimits {
  maxRooms: number;
  maxRoomsPerUser: number;
  maxOccupants: number;
  maxHistory: number;
  historyBytes: number;
  eventRate: number;
  burst: number;
  subjectBytes: number;
  maxAffiliations: number;
  /** Stored presence of one occupant session (bytes as XML). */
  presenceBytes: number;
  /** Stored presence of every occupant session of the service (bytes as XML). */
  totalPresenceBytes: number;
  locking: boolean;
  lockTimeoutMs: number;
}

/** Who may create rooms: Prosody's restrict_room_creation (false, "admin", "local"). */
export interface CreationPolicy {
  mode: 'anyone' | 'admin' | 'local';
  admins: ReadonlySet<string>;
  /** The parent domain whose users are "local" (conference.example → example). */
  parent: string;
}

/** Hands for the service: routing, the room store, the log. */
export interface MucDeps {
  domain: string;
  limits: MucLimits;
  defaults: RoomConfig;
  creation: CreationPolicy;
  store: KeyValStore<StoredRoom>;
  salt: string;
  send(el: Element): void | Promise<void>;
  log: Logger;
  /** The room archive, when muc_mam is loaded on the component. */
  archive?(): RoomArchive | undefined;
}

export class MucService {
  readonly rooms = new Map<string, Room>();
  readonly domain: string;
  readonly limits: MucLimits;
  /** Bytes of occupant presence kept over all rooms. */
  readonly presence: PresenceBudget;

  constructor(private readonly deps: MucDeps) {
    this.domain = deps.domain;
    this.limits = deps.limits;
    this.presence = new PresenceBudget(deps.limits.totalPresenceBytes);
  }

  /** Route one stanza; a routing failure is logged, never thrown at the room. */
  readonly send = (el: Element): void => {
    try {
      const r = this.deps.send(el);
      if (r instanceof Promise) r.catch((err: unknown) => this.deps.log.warn({ err }, 'a MUC stanza could not be routed'));
    } catch (err) {
      this.deps.log.warn({ err }, 'a MUC stanza could not be routed');
    }
  };

  /** The room archive (muc_mam), if loaded. */
  archive(): RoomArchive | undefined {
    return this.deps.archive?.();
  }

  /** A room is gone: its archive goes too (Prosody's muc-room-destroyed). */
  private forget(room: Room): void {
    const archive = this.archive();
    archive?.deleteRoom(room.node).catch((err: unknown) => this.deps.log.warn({ err, room: room.jid }, "deleting a destroyed room's archive failed"));
  }

  /** Load the persistent rooms (at start-up). */
  async load(): Promise<void> {
    for (const node of await this.deps.store.users()) {
      if (this.rooms.size >= this.limits.maxRooms) break;
      const stored = await this.deps.store.get(node);
      if (!stored) continue;
      const room = this.newRoom(node, normalise(stored.config, this.deps.defaults), stored.creator ?? '');
      for (const [j, a] of Object.entries(stored.affiliations)) room.setAffiliation(j, a);
      for (const [j, n] of Object.entries(stored.nicks ?? {})) if (typeof n === 'string' && room.affiliations.has(j)) room.nicks.set(j, n);
      room.subject = stored.subject;
      this.rooms.set(node, room);
    }
  }

  private newRoom(node: string, config: RoomConfig, creator: string): Room {
    return new Room(`${node}@${this.domain}`, config, creator, this.limits.historyBytes, this.limits.maxHistory);
  }

  /** Service admins (admins of the component) are owners of every room, as Prosody's component_admins_as_room_owners. */
  isAdmin(bare: string): boolean {
    return this.deps.creation.admins.has(bare);
  }

  /** A JID's affiliation with a room, admins counted as owners. */
  affiliation(room: Room, bare: string): Affiliation {
    return this.isAdmin(bare) ? 'owner' : room.affiliation(bare);
  }

  /** Create a room for `creator` (its first joiner), or refuse with the error Prosody gives. */
  create(node: string, creator: string): Room {
    const policy = this.deps.creation;
    const creatorDomain = creator.slice(creator.indexOf('@') + 1);
    if (policy.mode !== 'anyone' && !this.isAdmin(creator) && !(policy.mode === 'local' && creatorDomain === policy.parent)) {
      throw new StanzaError('not-allowed', 'Room creation is restricted');
    }
    if (this.rooms.size >= this.limits.maxRooms) throw new StanzaError('resource-constraint', 'This service has as many rooms as it may have', 'wait');
    let mine = 0;
    for (const r of this.rooms.values()) if (r.creator === creator) mine++;
    if (mine >= this.limits.maxRoomsPerUser && !this.isAdmin(creator)) {
      throw new StanzaError('policy-violation', `You may create at most ${this.limits.maxRoomsPerUser} rooms here`, 'cancel');
    }
    const room = this.newRoom(node, { ...this.deps.defaults }, creator);
    room.setAffiliation(creator, 'owner');
    if (this.limits.locking) {
      room.locked = true;
      room.lockTimer = setTimeout(() => {
        // An owner who never configured the room (§10.1.1): it goes, as Prosody's muc_room_lock_timeout.
        if (room.locked && !room.destroyed) this.destroy(room, undefined, 'The room was never configured').catch((err: unknown) => this.deps.log.warn({ err }, 'destroying an unconfigured room failed'));
      }, this.limits.lockTimeoutMs);
      room.lockTimer.unref();
    }
    this.rooms.set(node, room);
    return room;
  }

  /** A new occupant record for `bare` under `nick`. */
  occupant(room: Room, nick: string, bare: string): Occupant {
    return { nick, bare, sessions: new SessionMap(this.presence), role: 'none', id: occupantId(this.deps.salt, room.jid, bare), rate: new TokenBucket(this.limits.eventRate, this.limits.burst) };
  }

  /** Store a persistent room (or forget a room that stopped being one); resolves once durable. */
  async save(room: Room): Promise<void> {
    if (room.destroyed) return;
    await this.deps.store.set(room.node, room.config.persistent ? room.stored() : undefined);
  }

  /** Save without waiting: a failure (storage busy or down) is logged, never an unhandled rejection. */
  saveLater(room: Room): void {
    this.save(room).catch((err: unknown) => this.deps.log.warn({ err, room: room.node }, 'a room could not be saved'));
  }

  /** Unlock a configured room (§10.1.2). */
  unlock(room: Room): void {
    room.locked = false;
    clearTimeout(room.lockTimer);
    room.lockTimer = undefined;
  }

  /** Drop a temporary room nobody is in any more. */
  async leftEmpty(room: Room): Promise<void> {
    if (room.occupants.size > 0 || room.destroyed) return;
    if (!room.config.persistent) {
      room.destroyed = true;
      clearTimeout(room.lockTimer);
      this.rooms.delete(room.node);
      room.history.clear();
      this.forget(room);
    }
  }

  /** Destroy a room (§10.9): everyone leaves with `<destroy/>`, then its stored state goes. */
  async destroy(room: Room, venue: string | undefined, reason: string | undefined, password?: string): Promise<void> {
    const destroy = x('destroy', { jid: venue }, reason ? x('reason', null, reason) : undefined, password ? x('password', null, password) : undefined);
    // §10.9: one unavailable presence to each occupant about itself, not a broadcast of everyone's.
    for (const o of room.occupants.values()) {
      const p = occupantPresence(room, o, { type: 'unavailable', destroy, payload: [] }, true, true, 'none');
      for (const session of o.sessions.keys()) this.send(addressed(p, session));
      o.sessions.clear();
    }
    room.occupants.clear();
    room.bySession.clear();
    room.destroyed = true;
    clearTimeout(room.lockTimer);
    room.history.clear();
    this.rooms.delete(room.node);
    this.forget(room);
    await this.deps.store.set(room.node, undefined);
  }

  /** A message from the room itself (status codes of a config change, §10.2.1). */
  roomMessage(codes: readonly number[]): Element {
    const mx = x('x', { xmlns: NS.MUC_USER });
    for (const c of codes) mx.append(x('status', { code: String(c) }));
    return x('message', { type: 'groupchat' }, mx);
  }
}
