// A TEST DOUBLE of the PepService (src/modules/pep/service.ts) for unit tests of the modules that
// use it (bookmarks, vcard_legacy) while the real pep module is not merged. Loaded as a module
// named 'pep': it offers the 'pep-service' item and fires 'pep-item-published' /
// 'pep-item-retracted' through the host, as the interface documents. In memory, no notifications
// to clients, no access checks: never used outside unit tests.
import { defineModule, type ModuleContext, type ModuleDefinition } from '../../src/core/modules.js';
import { StanzaError } from '../../src/core/errors.js';
import { x, type Element } from '../../src/xml/element.js';
import type { NodeOptions, PepService } from '../../src/modules/pep/service.js';
import { MODULES } from '../../src/modules/index.js';
import { hostWorld, type HostWorld } from './host-world.js';

interface Node { options: Record<string, string>; items: Element[] }

/** The double's state, for tests to look into. */
export interface MemoryPep extends PepService {
  /** user → node → node; read-only by convention. */
  readonly nodes: Map<string, Map<string, Node>>;
  /** Every call made, in order ('publish user node id', 'retract user node id', …). */
  readonly calls: string[];
  /** `user node` → full JIDs whose caps show `<node>+notify`; tests fill it in. */
  readonly interest: Map<string, string[]>;
}

const flat = (v: string | readonly string[]): string => (typeof v === 'string' ? v : v.join(','));

/** A 'pep' module definition and the service it offers. */
export function memoryPep(): { module: ModuleDefinition; service: MemoryPep } {
  const nodes = new Map<string, Map<string, Node>>();
  const calls: string[] = [];
  let fire: ModuleContext['fire'] | undefined;
  let generated = 0;
  const nodeOf = (user: string, node: string): Node | undefined => nodes.get(user)?.get(node);

  const interest = new Map<string, string[]>();
  const service: MemoryPep = {
    nodes,
    calls,
    interest,
    async publish(user, node, item, options: NodeOptions = {}) {
      const wanted = Object.fromEntries(Object.entries(options).map(([k, v]) => [k, flat(v)]));
      let n = nodeOf(user, node);
      if (n) {
        for (const [k, v] of Object.entries(wanted)) {
          if (n.options[k] !== v) {
            throw new StanzaError('conflict', `${k} is not ${v}`, 'cancel', x('precondition-not-met', { xmlns: 'http://jabber.org/protocol/pubsub#errors' }));
          }
        }
      } else {
        n = { options: { ...DEFAULTS, ...wanted }, items: [] };
        if (!nodes.has(user)) nodes.set(user, new Map());
        nodes.get(user)!.set(node, n);
      }
      const id = item.attrs.id || `gen-${++generated}`;
      const stored = item.clone();
      stored.attrs.id = id;
      n.items = [stored, ...n.items.filter((i) => i.attrs.id !== id)];
      const max = n.options['pubsub#max_items'];
      if (max !== undefined && max !== 'max') n.items = n.items.slice(0, Number(max));
      calls.push(`publish ${user} ${node} ${id}`);
      await fire?.('pep-item-published', { user, node, item: stored });
      return id;
    },
    async retract(user, node, id) {
      const n = nodeOf(user, node);
      if (!n || !n.items.some((i) => i.attrs.id === id)) return;
      n.items = n.items.filter((i) => i.attrs.id !== id);
      calls.push(`retract ${user} ${node} ${id}`);
      await fire?.('pep-item-retracted', { user, node, id });
    },
    async items(user, node) {
      return (nodeOf(user, node)?.items ?? []).map((i) => i.clone());
    },
    async deleteNode(user, node) {
      nodes.get(user)?.delete(node);
      calls.push(`delete ${user} ${node}`);
      await fire?.('pep-node-emptied', { user, node, kind: 'delete' });
    },
    interested(user, node) {
      return [...(interest.get(`${user} ${node}`) ?? [])];
    },
    async enforce(user, node, options) {
      const n = nodeOf(user, node);
      const wanted = Object.entries(options).map(([k, v]) => [k, flat(v)] as const);
      if (!n || wanted.every(([k, v]) => n.options[k] === v)) return false;
      for (const [k, v] of wanted) n.options[k] = v;
      calls.push(`configure ${user} ${node}`);
      return true;
    },
  };

  const module = defineModule({
    name: 'pep',
    setup(ctx) {
      fire = ctx.fire.bind(ctx);
      ctx.provide('pep-service', service);
    },
  });
  return { module, service };
}

/** What a node has when publish-options do not name a field (the defaults Prosody's PEP uses). */
const DEFAULTS: Readonly<Record<string, string>> = {
  'pubsub#access_model': 'presence', 'pubsub#persist_items': 'true', 'pubsub#max_items': '1', 'pubsub#send_last_published_item': 'on_sub_and_presence',
};

/** A host world with the PEP double loaded, then `defs`; `registry` (Clove's modules plus the double) serves later loads. */
export async function worldWithPep(defs: readonly ModuleDefinition[], cfg?: string): Promise<{ world: HostWorld; pep: MemoryPep; registry: ReadonlyMap<string, ModuleDefinition> }> {
  const world = hostWorld(cfg);
  const double = memoryPep();
  const registry = new Map([...MODULES, ['pep', double.module]]);
  await world.host.load([double.module, ...defs], registry);
  return { world, pep: double.service, registry };
}
