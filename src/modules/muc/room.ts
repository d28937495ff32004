// One room's state: its configuration, affiliations (kept), occupants and their sessions
// (live), subject, history and lock. Pure data with small queries; what happens on stanzas is
// in join.ts, messages.ts, admin.ts and owner.ts.
// References: XEP-0045 §5 (roles and affiliations), §7.2 (occupants), §10.1 (locked rooms).
import type { Element } from '../../xml/element.js';
import { defaultRole, type Affiliation, type Role } from './roles.js';
import type { RoomConfig } from './room-config.js';
import { History } from './history.js';
import type { TokenBucket } from './rate.js';

/** One nickname in the room: a real bare JID with one or more of its sessions (Prosody's multi-session occupants). */
export interface Occupant {
  nick: string;
  /** The real bare JID. */
  readonly bare: string;
  /** Each joined session (real full JID) and its last presence as sent (no to/from). */
  readonly sessions: Map<string, Element>;
  role: Role;
  /** XEP-0421 occupant id: stable per room and real bare JID. */
  readonly id: string;
  readonly rate: TokenBucket;
}

export interface Subject {
  text: string;
  /** The nick that set it ('' for the room itself). */
  nick: string;
}

/** What a persistent room keeps across restarts. */
export interface StoredRoom {
  config: RoomConfig;
  affiliations: Record<string, Affiliation>;
  subject?: Subject;
  creator?: string;
  /** Nicknames reserved by registration (§7.10), by real bare JID. */
  nicks?: Record<string, string>;
}

export class Room {
  readonly affiliations = new Map<string, Affiliation>();
  /** Real bare JID → the nickname it reserved (register.ts); only affiliated JIDs have one. */
  readonly nicks = new Map<string, string>();
  readonly occupants = new Map<string, Occupant>();
  /** Real full JID → its occupant. */
  readonly bySession = new Map<string, Occupant>();
  subject: Subject | undefined;
  readonly history: History;
  /** A new room stays locked until its owner configures it (§10.1.1). */
  locked = false;
  /** Set when the lock was taken: an unconfigured room is destroyed after muc_room_lock_timeout. */
  lockTimer: NodeJS.Timeout | undefined;
  destroyed = false;

  constructor(
    /** The room's bare JID. */
    readonly jid: string,
    public config: RoomConfig,
    /** Bare JID of the user who created it (counts against muc_max_rooms_per_user). */
    readonly creator: string,
    historyBytes: number,
    maxHistory: number,
  ) {
    this.history = new History(Math.min(config.historyLength, maxHistory), historyBytes);
  }

  /** The affiliation of a real bare JID. */
  affiliation(bare: string): Affiliation {
    return this.affiliations.get(bare) ?? 'none';
  }

  /** The role a JID so affiliated gets on entering. */
  roleFor(aff: Affiliation): Role {
    return defaultRole(aff, this.config.moderated, this.config.membersOnly);
  }

  /** Set (or with 'none', remove) an affiliation. */
  setAffiliation(bare: string, aff: Affiliation): void {
    if (aff === 'none') this.affiliations.delete(bare);
    else this.affiliations.set(bare, aff);
    // A reservation belongs to an affiliation: losing it (or being banned) frees the nick.
    if (aff === 'none' || aff === 'outcast') this.nicks.delete(bare);
  }

  /** The bare JID that reserved `nick`, if any. */
  reservedBy(nick: string): string | undefined {
    for (const [bare, n] of this.nicks) if (n === nick) return bare;
    return undefined;
  }

  /** The owners' bare JIDs. */
  owners(): string[] {
    return [...this.affiliations].filter(([, a]) => a === 'owner').map(([j]) => j);
  }

  /** Occupants of a real bare JID (its sessions may have joined under different nicks). */
  occupantsOfBare(bare: string): Occupant[] {
    return [...this.occupants.values()].filter((o) => o.bare === bare);
  }

  /** May this occupant see real JIDs (§7.2.3/§7.2.4: non-anonymous rooms, or moderators of semi-anonymous ones)? */
  seesJids(o: Occupant): boolean {
    return this.config.whois === 'anyone' || o.role === 'moderator';
  }

  /** Every real full JID of every occupant, for broadcasts. */
  *sessions(): Iterable<[string, Occupant]> {
    for (const o of this.occupants.values()) for (const s of o.sessions.keys()) yield [s, o];
  }

  /** The room's node (local part). */
  get node(): string {
    return this.jid.slice(0, this.jid.indexOf('@'));
  }

  /** What a persistent room keeps. */
  stored(): StoredRoom {
    return {
      config: this.config,
      affiliations: Object.fromEntries(this.affiliations),
      ...(this.subject ? { subject: this.subject } : {}),
      creator: this.creator,
      ...(this.nicks.size > 0 ? { nicks: Object.fromEntries(this.nicks) } : {}),
    };
  }
}
