// The unit of extension (design.md §4): a module declares a name and a setup(ctx) function.
// Modules are loaded per VirtualHost from `modules_enabled` / `modules_disabled`.
import type { Element } from '../xml/element.js';
import type { Logger } from './log.js';
import type { EventName, EventPayload, StanzaEvent, Target } from './events-map.js';
import type { Handler } from './events.js';
import type { KeyValStore, MapStore } from '../storage/store.js';
import type { Bounds } from '../config/config.js';
import type { Host } from './host.js';

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

/** An iq handler returns the result payload (or nothing for an empty result), or throws StanzaError. */
export type IqHandler = (ev: StanzaEvent) => Element | undefined | void | Promise<Element | undefined | void>;

export interface ModuleOptions {
  string(name: string, fallback: string): string;
  number(name: string, fallback: number, bounds?: Bounds): number;
  boolean(name: string, fallback: boolean): boolean;
  list(name: string, fallback: readonly string[]): readonly string[];
  /** Any schema option, as the config has it. */
  get<T>(name: string): T;
}

export interface ModuleContext {
  readonly host: Host;
  readonly log: Logger;
  /** Add an event handler on this host; removed when the module unloads. */
  hook<E extends EventName>(event: E, handler: Handler<EventPayload<E>>, priority?: number): void;
  /** Fire an event on this host. */
  fire<E extends EventName>(event: E, payload: EventPayload<E>): unknown | Promise<unknown>;
  /** Answer iqs of `type` addressed to `target` whose payload is <child xmlns=…>. */
  iq(type: 'get' | 'set', target: Target | readonly Target[], xmlns: string, child: string, handler: IqHandler): void;
  /** Advertise a disco#info feature on the host. */
  feature(ns: string): void;
  /** Advertise a disco#info identity on the host. */
  identity(category: string, type: string, name?: string): void;
  /** Offer an item of a kind to other modules, and read what was offered. */
  provide(kind: string, item: unknown): void;
  items<T>(kind: string): T[];
  /** Open a store of this host by name and shape. */
  store<T>(name: string, shape: 'keyval'): KeyValStore<T>;
  store<T>(name: string, shape: 'map'): MapStore<T>;
  /** Options, read at setup: bad values fail start-up with file:line. */
  readonly option: ModuleOptions;
  /** Route a stanza as the server. */
  send(stanza: Element): void;
}
