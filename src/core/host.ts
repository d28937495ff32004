// A VirtualHost: its own event bus, module instances, disco items and stores.
import { EventBus } from './events.js';
import type { Logger } from './log.js';
import type { Config } from '../config/config.js';
import { option as readOption } from '../config/config.js';
import type { StorageBackend } from '../storage/store.js';
import type { Accounts } from '../storage/accounts.js';
import type { SessionTable } from './sessions.js';
import type { Element } from '../xml/element.js';
import type { Cleanup, ModuleContext, ModuleDefinition } from './modules.js';
import { ServerError } from './errors.js';
import type { Router } from './router.js';

/** What a host needs from the server around it (narrow, so tests can build one). */
export interface HostDeps {
  config: Config;
  log: Logger;
  storage: StorageBackend;
  sessions: SessionTable;
  router: Router;
  accounts: Accounts;
  isLocal(domain: string): boolean;
  /** Federation: sends stanzas to other domains (absent when s2s is off). */
  remote?: RemoteSender;
  /** 'Component': its own domain, no accounts and no client logins (default 'VirtualHost'). */
  kind?: 'VirtualHost' | 'Component';
}

/** The narrow view of the s2s layer that modules use. */
export interface RemoteSender {
  send(stanza: Element, local: string, remote: string): Promise<void>;
}

export class Host {
  readonly events = new EventBus();
  readonly log: Logger;
  private readonly provided = new Map<string, unknown[]>();
  /** Per loaded module: what to undo when it unloads (hooks, its own cleanup, items it provided). */
  private readonly undo = new Map<string, { cleanups: Cleanup[]; provided: Array<[kind: string, item: unknown]> }>();
  /** Loaded module names, in load order. */
  readonly loaded = new Set<string>();

  constructor(readonly name: string, readonly deps: HostDeps) {
    this.log = deps.log.child({ host: name });
  }

  /** A VirtualHost (accounts, client logins) or a Component (its own domain, neither). */
  get kind(): 'VirtualHost' | 'Component' { return this.deps.kind ?? 'VirtualHost'; }
  get sessions(): SessionTable { return this.deps.sessions; }
  get accounts(): Accounts { return this.deps.accounts; }
  get router(): Router { return this.deps.router; }
  /** The config in force: replaced by a reload. Module options read at load keep their values. */
  get config(): Config { return this.deps.config; }

  /** A reload made `config` the running config (src/main.ts). */
  reconfigure(config: Config): void {
    this.deps.config = config;
  }

  /** Items other modules offered under `kind` (features, identities, …). */
  items<T>(kind: string): T[] {
    return (this.provided.get(kind) ?? []) as T[];
  }

  provide(kind: string, item: unknown): void {
    const list = this.provided.get(kind) ?? [];
    list.push(item);
    this.provided.set(kind, list);
  }

  /** Take back an item given with provide() (by identity). */
  withdraw(kind: string, item: unknown): void {
    const list = this.provided.get(kind);
    const i = list?.indexOf(item) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
  }

  /** Load modules in order, their dependencies first. */
  async load(defs: readonly ModuleDefinition[], registry: ReadonlyMap<string, ModuleDefinition>): Promise<void> {
    for (const def of defs) await this.loadOne(def, registry, []);
  }

  private async loadOne(def: ModuleDefinition, registry: ReadonlyMap<string, ModuleDefinition>, chain: string[]): Promise<void> {
    if (this.loaded.has(def.name)) return;
    if (chain.includes(def.name)) throw new ServerError('module', `module dependency cycle: ${[...chain, def.name].join(' → ')}`);
    for (const dep of def.depends ?? []) {
      const d = registry.get(dep);
      if (!d) throw new ServerError('module', `module '${def.name}' needs '${dep}', which does not exist`);
      await this.loadOne(d, registry, [...chain, def.name]);
    }
    this.loaded.add(def.name);
    const undo = { cleanups: [] as Cleanup[], provided: [] as Array<[string, unknown]> };
    this.undo.set(def.name, undo);
    try {
      const cleanup = await def.setup(this.context(def.name, undo));
      if (cleanup) undo.cleanups.push(cleanup);
    } catch (err) {
      await this.unloadModule(def.name);
      throw err;
    }
  }

  /** Unload one module: its cleanup, then its hooks, then what it provided to others. */
  async unloadModule(name: string): Promise<void> {
    const undo = this.undo.get(name);
    this.undo.delete(name);
    this.loaded.delete(name);
    if (!undo) return;
    while (undo.cleanups.length) await undo.cleanups.pop()?.();
    for (const [kind, item] of undo.provided) this.withdraw(kind, item);
  }

  /** Unload every module (reverse load order). */
  async unload(): Promise<void> {
    for (const name of [...this.loaded].reverse()) await this.unloadModule(name);
  }

  /**
   * Make the loaded modules match `defs` (a reload): unload what is no longer wanted (neither
   * listed nor needed by a listed module), then load what is missing. Returns the names.
   */
  async reconcile(defs: readonly ModuleDefinition[], registry: ReadonlyMap<string, ModuleDefinition>): Promise<{ unloaded: string[]; loaded: string[] }> {
    const wanted = new Set<string>();
    const want = (d: ModuleDefinition): void => {
      if (wanted.has(d.name)) return;
      wanted.add(d.name);
      for (const dep of d.depends ?? []) {
        const dd = registry.get(dep);
        if (dd) want(dd);
      }
    };
    defs.forEach(want);
    const unloaded = [...this.loaded].reverse().filter((name) => !wanted.has(name));
    for (const name of unloaded) await this.unloadModule(name);
    const before = new Set(this.loaded);
    await this.load(defs, registry);
    return { unloaded, loaded: [...this.loaded].filter((n) => !before.has(n)) };
  }

  private context(moduleName: string, undo: { cleanups: Cleanup[]; provided: Array<[string, unknown]> }): ModuleContext {
    const host = this;
    const config = this.deps.config;
    const unhooks: (() => void)[] = [];
    undo.cleanups.push(() => { for (const u of unhooks) u(); });
    const provide = (kind: string, item: unknown): void => {
      host.provide(kind, item);
      undo.provided.push([kind, item]);
    };
    const log = this.log.child({ mod: moduleName });
    return {
      host,
      log,
      hook: (event, handler, priority) => { unhooks.push(host.events.hook(event, handler, priority)); },
      fire: (event, payload) => host.events.fire(event, payload),
      iq: (type, target, xmlns, child, handler) => {
        for (const t of typeof target === 'string' ? [target] : target) {
          unhooks.push(host.router.hookIq(host, type, t, xmlns, child, handler));
        }
      },
      feature: (ns) => provide('feature', ns),
      identity: (category, type, name) => provide('identity', { category, type, name }),
      provide,
      items: <T>(kind: string) => host.items<T>(kind),
      store: ((name: string, shape: 'keyval' | 'map') =>
        shape === 'keyval' ? host.deps.storage.keyval(host.name, name) : host.deps.storage.map(host.name, name)) as ModuleContext['store'],
      option: {
        string: (name, fallback) => readOption(config, host.name, name, fallback),
        number: (name, fallback, bounds) => readOption(config, host.name, name, fallback, bounds),
        boolean: (name, fallback) => readOption(config, host.name, name, fallback),
        list: (name, fallback) => readOption(config, host.name, name, fallback),
        get: (name) => config.get(name, host.name),
      },
      send: (stanza: Element) => { void host.router.route(stanza, undefined); },
    };
  }
}
