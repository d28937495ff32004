// A VirtualHost: its own event bus, module instances, disco items and stores.
import { EventBus } from './events.js';
import type { Logger } from './log.js';
import type { Config } from '../config/config.js';
import { option as readOption } from '../config/config.js';
import type { ArchiveLimits, StorageBackend } from '../storage/store.js';
import type { Accounts } from '../storage/accounts.js';
import type { SessionTable } from './sessions.js';
import type { Cleanup, ModuleContext, ModuleDefinition, ModuleHost, RemoteSender } from './modules.js';
import type { ItemKind, ItemMap } from './items-map.js';
import { ServerError } from './errors.js';
import type { Router } from './router.js';

export type { RemoteSender } from './modules.js';

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

/** What the host keeps per loaded module, to undo it or re-check it. */
interface ModuleRecord {
  /** What to undo when it unloads (hooks, its own cleanup). */
  cleanups: Cleanup[];
  /** Items it provided to others. */
  provided: Array<[kind: ItemKind, item: unknown]>;
  /** Its option reads, run again on a candidate config before a reload applies it. */
  checks: Array<(config: Config) => unknown>;
  /** Its live options: take the value from a config that passed the checks. */
  live: Array<(config: Config) => void>;
}

export class Host {
  readonly events = new EventBus();
  readonly log: Logger;
  private readonly provided = new Map<ItemKind, unknown[]>();
  /** Per loaded module: what to undo when it unloads, and its option reads. */
  private readonly undo = new Map<string, ModuleRecord>();
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

  /** A reload made `config` the running config (src/main.ts): live module options take their new values. */
  reconfigure(config: Config): void {
    if (this.deps.config === config) return;
    this.deps.config = config;
    for (const [name, rec] of this.undo) {
      for (const apply of rec.live) {
        try {
          apply(config);
        } catch (err) {
          // Only when apply() was called without checkOptions() first: the running value stays.
          this.log.error({ mod: name }, `option not applied, the running value stays: ${(err as Error).message}`);
        }
      }
    }
  }

  /**
   * Check every loaded module's options against a config a reload is about to apply; throws the
   * first bad one (ConfigError: file, line and option), so the reload can be refused whole.
   */
  checkOptions(config: Config): void {
    for (const rec of this.undo.values()) for (const check of rec.checks) check(config);
  }

  /** Items the loaded modules offered under `kind` (features, identities, …), in load order. */
  items<K extends ItemKind>(kind: K): readonly ItemMap[K][] {
    return (this.provided.get(kind) ?? []) as ItemMap[K][];
  }

  /** Offer an item under `kind` (modules use ctx.provide, which withdraws it on unload). */
  provide<K extends ItemKind>(kind: K, item: ItemMap[K]): void {
    const list = this.provided.get(kind) ?? [];
    list.push(item);
    this.provided.set(kind, list);
  }

  /** Take back an item given with provide() (by identity). */
  withdraw(kind: ItemKind, item: unknown): void {
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
    const undo: ModuleRecord = { cleanups: [], provided: [], checks: [], live: [] };
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

  /** The narrow view of this host that its modules get (no router, bus or storage backend). */
  private readonly view: ModuleHost = (() => {
    const host = this;
    return {
      get name() { return host.name; },
      get accounts() { return host.deps.accounts; },
      get sessions() { return host.deps.sessions; },
      get config() { return host.deps.config; },
      get remote() { return host.deps.remote; },
      isLocal: (domain: string) => host.deps.isLocal(domain),
      adoptSession: (session) => { host.deps.sessions.add(session); },
    };
  })();

  private context(moduleName: string, undo: ModuleRecord): ModuleContext {
    const host = this;
    const config = this.deps.config;
    const unhooks: (() => void)[] = [];
    undo.cleanups.push(() => { for (const u of unhooks) u(); });
    const provide = <K extends ItemKind>(kind: K, item: ItemMap[K]): void => {
      host.provide(kind, item);
      undo.provided.push([kind, item]);
    };
    /** Read now, and again on every reload candidate (a bad value refuses the reload). */
    const checked = <T>(read: (c: Config) => T): T => {
      undo.checks.push(read);
      return read(config);
    };
    /** As checked(), and the value follows each reload that passed the checks. */
    const live = <T>(read: (c: Config) => T): (() => T) => {
      let value = checked(read);
      undo.live.push((c) => { value = read(c); });
      return () => value;
    };
    const name = host.name;
    const log = this.log.child({ mod: moduleName });
    return {
      host: this.view,
      log,
      hook: (event, handler, priority) => { unhooks.push(host.events.hook(event, handler, priority)); },
      fire: (event, payload) => host.events.fire(event, payload),
      iq: (type, target, xmlns, child, handler, priority) => {
        for (const t of typeof target === 'string' ? [target] : target) {
          unhooks.push(host.deps.router.hookIq(host, type, t, xmlns, child, handler, priority));
        }
      },
      feature: (ns) => provide('feature', ns),
      identity: (category, type, name) => provide('identity', name === undefined ? { category, type } : { category, type, name }),
      provide,
      items: (kind) => host.items(kind),
      store: ((store: string, shape: 'keyval' | 'map' | 'archive', limits?: ArchiveLimits) =>
        shape === 'keyval' ? host.deps.storage.keyval(name, store)
          : shape === 'map' ? host.deps.storage.map(name, store)
            : host.deps.storage.archive(name, store, limits)) as ModuleContext['store'],
      option: {
        string: (option, fallback) => checked((c) => readOption(c, name, option, fallback)),
        number: (option, fallback, bounds) => checked((c) => readOption(c, name, option, fallback, bounds)),
        boolean: (option, fallback) => checked((c) => readOption(c, name, option, fallback)),
        list: (option, fallback) => checked((c) => readOption(c, name, option, fallback)),
        get: (option) => config.get(option, name),
        custom: checked,
        live: {
          string: (option, fallback) => live((c) => readOption(c, name, option, fallback)),
          number: (option, fallback, bounds) => live((c) => readOption(c, name, option, fallback, bounds)),
          boolean: (option, fallback) => live((c) => readOption(c, name, option, fallback)),
          list: (option, fallback) => live((c) => readOption(c, name, option, fallback)),
          custom: live,
        },
      },
      send: (stanza) => host.deps.router.route(stanza, undefined),
      sendAs: async (session, stanza) => host.deps.router.fromClient(session, stanza),
    };
  }
}
