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
}

/** The narrow view of the s2s layer that modules use. */
export interface RemoteSender {
  send(stanza: Element, local: string, remote: string): Promise<void>;
}

export class Host {
  readonly events = new EventBus();
  readonly log: Logger;
  private readonly provided = new Map<string, unknown[]>();
  private readonly cleanups: Cleanup[] = [];
  readonly loaded = new Set<string>();

  constructor(readonly name: string, readonly deps: HostDeps) {
    this.log = deps.log.child({ host: name });
  }

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
    const cleanup = await def.setup(this.context(def.name));
    if (cleanup) this.cleanups.push(cleanup);
  }

  /** Unload every module (reverse order). */
  async unload(): Promise<void> {
    while (this.cleanups.length) await this.cleanups.pop()?.();
  }

  private context(moduleName: string): ModuleContext {
    const host = this;
    const config = this.deps.config;
    const unhooks: (() => void)[] = [];
    this.cleanups.push(() => { for (const u of unhooks) u(); });
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
      feature: (ns) => host.provide('feature', ns),
      identity: (category, type, name) => host.provide('identity', { category, type, name }),
      provide: (kind, item) => host.provide(kind, item),
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
