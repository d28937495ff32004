// The unit of extension (docs/architecture.md, Modules): a module declares a name and a setup(ctx) function.
// Modules are loaded per VirtualHost from `modules_enabled` / `modules_disabled`.
// A module sees the server only through ModuleContext: the narrow ModuleHost (no router, no
// event bus, no storage backend), and routes every stanza through ctx.send / ctx.sendAs.
import type { Element } from '../xml/element.js';
import type { Logger } from './log.js';
import type { EventName, EventPayload, StanzaEvent, Target } from './events-map.js';
import type { Handler, PriorityLevel } from './events.js';
import type { ItemKind, ItemMap } from './items-map.js';
import type { ArchiveLimits, ArchiveStore, KeyValStore, MapStore } from '../storage/store.js';
import type { Bounds, Config } from '../config/config.js';
import type { Accounts } from '../storage/accounts.js';
import type { SessionTable } from './sessions.js';
import type { C2SSession } from './session.js';

export type Cleanup = () => void | Promise<void>;

export interface ModuleDefinition {
  readonly name: string;
  /** Modules that must be loaded first (loaded automatically). */
  readonly depends?: readonly string[];
  setup(ctx: ModuleContext): void | Cleanup | Promise<void | Cleanup>;
}

/** Declare a module. */
export function defineModule(def: ModuleDefinition): ModuleDefinition {
  return def;
}

declare const declined: unique symbol;
/** The type of DECLINE (an object type, so `async () => DECLINE` keeps it). */
export interface Decline { readonly [declined]: true }
/**
 * Returned by an iq handler that does not answer this request (another node, another case): the
 * next handler of the same iq runs, and an iq nobody answers gets the usual error reply.
 */
export const DECLINE: Decline = Object.freeze({ toString: () => 'DECLINE' }) as unknown as Decline;

/** True for DECLINE. */
export function isDecline(v: unknown): v is Decline {
  return v === DECLINE;
}

/** Where an iq a module answers is addressed; an iq to a full JID belongs to that client. */
export type IqTarget = Exclude<Target, 'full'>;

type IqOutcome = Element | undefined | void | Decline;
/** An iq handler returns the result payload (or nothing for an empty result) or DECLINE, or throws StanzaError. */
export type IqHandler = (ev: StanzaEvent) => IqOutcome | Promise<IqOutcome>;

/** What modules may read of the session table (it is changed by the stream layer). */
export type SessionView = Pick<SessionTable, 'size' | 'get' | 'ofUser' | 'hasResource' | 'all'>;

/** The narrow view of the s2s layer that modules use. */
export interface RemoteSender {
  send(stanza: Element, local: string, remote: string): Promise<void>;
}

/** The VirtualHost as a module sees it. */
export interface ModuleHost {
  readonly name: string;
  readonly accounts: Accounts;
  readonly sessions: SessionView;
  /** The config in force (a reload replaces it). Prefer ctx.option, which is checked on reload. */
  readonly config: Config;
  /** True for a domain this server serves. */
  isLocal(domain: string): boolean;
  /** Federation: sends stanzas to other domains (undefined when s2s is off). */
  readonly remote: RemoteSender | undefined;
  /**
   * Put a session that took over a hibernating one (XEP-0198 resumption) into the session table
   * under its JID; the stream layer has already bound it.
   */
  adoptSession(session: C2SSession): void;
}

/** Options read at setup: bad values fail start-up with file:line, and a reload with file:line. */
export interface ModuleOptions {
  string(name: string, fallback: string): string;
  number(name: string, fallback: number, bounds?: Bounds): number;
  boolean(name: string, fallback: boolean): boolean;
  list(name: string, fallback: readonly string[]): readonly string[];
  /** Any schema option, as the config has it (the schema has checked its type). */
  get<T>(name: string): T;
  /** A value computed from the config (several options, own checks): throw ConfigError for a bad one. */
  custom<T>(read: (config: Config) => T): T;
  /**
   * The same reads for options the module applies live: each returns a function giving the
   * value in force, which a reload updates once every module's options passed their checks.
   */
  readonly live: LiveOptions;
}

/** Readers of options applied live (see ModuleOptions.live). */
export interface LiveOptions {
  string(name: string, fallback: string): () => string;
  number(name: string, fallback: number, bounds?: Bounds): () => number;
  boolean(name: string, fallback: boolean): () => boolean;
  list(name: string, fallback: readonly string[]): () => readonly string[];
  custom<T>(read: (config: Config) => T): () => T;
}

export interface ModuleContext {
  readonly host: ModuleHost;
  readonly log: Logger;
  /** Add an event handler on this host at a named priority (default normal); removed when the module unloads. */
  hook<E extends EventName>(event: E, handler: Handler<EventPayload<E>>, priority?: PriorityLevel): void;
  /** Fire an event on this host. */
  fire<E extends EventName>(event: E, payload: EventPayload<E>): unknown | Promise<unknown>;
  /**
   * Answer iqs of `type` addressed to `target` whose payload is <child xmlns=…>: the framework
   * sends the result or the error. Several handlers may share an iq: they run by priority, and
   * a handler returning DECLINE passes it to the next.
   */
  iq(type: 'get' | 'set', target: IqTarget | readonly IqTarget[], xmlns: string, child: string, handler: IqHandler, priority?: PriorityLevel): void;
  /** Advertise a disco#info feature on the host. */
  feature(ns: string): void;
  /** Advertise a disco#info identity on the host. */
  identity(category: string, type: string, name?: string): void;
  /** Offer an item of a declared kind (core/items-map.ts) to other modules; withdrawn when this module unloads. */
  provide<K extends ItemKind>(kind: K, item: ItemMap[K]): void;
  /** What the loaded modules offer under `kind`, in load order. */
  items<K extends ItemKind>(kind: K): readonly ItemMap[K][];
  /** Open a store of this host by name and shape. */
  store<T>(name: string, shape: 'keyval'): KeyValStore<T>;
  store<T>(name: string, shape: 'map'): MapStore<T>;
  /** An append-only archive per owner (MAM, room history): limits default to ArchiveLimits' defaults (docs/storage.md). */
  store(name: string, shape: 'archive', limits?: ArchiveLimits): ArchiveStore;
  /** Options, read at setup: bad values fail start-up with file:line, and a reload likewise. */
  readonly option: ModuleOptions;
  /** Route a stanza as the server (its `from` is trusted); resolves once it was handed on. */
  send(stanza: Element): void | Promise<void>;
  /** Route a stanza as if the bound client `session` had sent it (its `from` is stamped and checked). */
  sendAs(session: C2SSession, stanza: Element): Promise<void>;
}
