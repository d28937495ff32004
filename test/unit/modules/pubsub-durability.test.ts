// The pubsub engine's writes: node creation is one durable write (a crash after any write leaves
// no node, or an owned one), and the running byte count behind pubsub_max_bytes / pep_max_bytes
// stays exactly what a full recount of the store gives, through every kind of change and a
// restart.
import { describe, it, expect } from 'vitest';
import { x, type Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { MODULES } from '../../../src/modules/index.js';
import { createMemoryBackend } from '../../../src/storage/memory.js';
import type { MapStore, StorageBackend } from '../../../src/storage/store.js';
import { PubsubEngine, type StoredNode } from '../../../src/modules/pubsub/engine.js';
import { nodeSize } from '../../../src/modules/pubsub/service-bytes.js';
import { hostWorld } from '../../helpers/host-world.js';

const PS = 'pubsub.localhost';

/** A backend whose map stores fail every write once `crashAfter` writes have been made: a process that died there. */
function crashingBackend(): { backend: StorageBackend; crashAfter: (n: number) => void; writes: () => number } {
  const inner = createMemoryBackend();
  let allowed = Infinity;
  let writes = 0;
  const backend: StorageBackend = {
    keyval: (host, store) => inner.keyval(host, store),
    archive: (host, store, limits) => inner.archive(host, store, limits),
    close: () => inner.close(),
    map: <T>(host: string, store: string): MapStore<T> => {
      const m = inner.map<T>(host, store);
      const gate = async (): Promise<void> => {
        if (writes >= allowed) throw new Error('crashed');
        writes += 1;
      };
      return {
        get: (u, k) => m.get(u, k),
        getAll: (u) => m.getAll(u),
        set: async (u, k, v) => { await gate(); await m.set(u, k, v); },
        setAll: async (u, all) => { await gate(); await m.setAll(u, all); },
      };
    },
  };
  return { backend, crashAfter: (n) => { allowed = writes + n; }, writes: () => writes };
}

describe('node creation', () => {
  it('stores the node and its owner in one write: a crash after it leaves an owned node', async () => {
    const { backend, crashAfter, writes } = crashingBackend();
    const w = hostWorld(`admins = { "admin@localhost" }\nVirtualHost "localhost"\nComponent "${PS}" "pubsub"\n  restrict_node_creation = false\n`, 'test.cfg.lua', backend);
    await w.addHost(PS).load([MODULES.get('pubsub')!], MODULES);
    const bob = w.bind('bob@localhost/b');
    const send = async (type: 'get' | 'set', payload: Element): Promise<Element> => {
      const id = `q${Math.random()}`;
      await w.router.fromClient(bob, x('iq', { type, id, to: PS }, payload));
      for (let i = 0; i < 50 && !bob.got.some((e) => e.attrs.id === id); i++) await new Promise((r) => setTimeout(r, 2));
      return bob.got.find((e) => e.attrs.id === id)!;
    };
    const before = writes();
    // The process dies after one write: whatever create wrote first must be whole.
    crashAfter(1);
    await send('set', x('pubsub', { xmlns: NS.PUBSUB }, x('create', { node: 'mine' })));
    expect(writes() - before).toBe(1);
    crashAfter(Infinity);
    const stored = await backend.map<StoredNode>(PS, 'pubsub').get(PS, 'mine');
    expect(stored?.affiliations).toEqual({ 'bob@localhost': 'owner' });
    const conf = await send('get', x('pubsub', { xmlns: NS.PUBSUB_OWNER }, x('configure', { node: 'mine' })));
    expect(conf.attrs.type).toBe('result');
    // A crash before any write leaves no node at all.
    crashAfter(0);
    const failed = await send('set', x('pubsub', { xmlns: NS.PUBSUB }, x('create', { node: 'other' })));
    expect(failed.attrs.type).toBe('error');
    crashAfter(Infinity);
    expect(await backend.map<StoredNode>(PS, 'pubsub').get(PS, 'other')).toBeUndefined();
  });
});

describe('the running byte count', () => {
  const limits = { maxItems: 5, itemBytes: 4096, nodes: 50, serviceBytes: 6_000, subscribers: 50 };
  const item = (id: string, size: number): Element => x('item', { id }, x('p', { xmlns: 'urn:t' }, 'x'.repeat(size)));
  const recount = async (store: MapStore<StoredNode>, service: string): Promise<number> =>
    Object.entries(await store.getAll(service)).reduce((sum, [k, v]) => sum + nodeSize(k, v), 0);

  it('stays exact through every kind of change and after a restart', async () => {
    const store = createMemoryBackend().map<StoredNode>('h', 'pubsub');
    let engine = new PubsubEngine(store, limits, () => undefined);
    const svc = 'alice';
    let seed = 7;
    const rnd = (n: number): number => { seed = (seed * 48271) % 2147483647; return seed % n; };
    const ops: (() => Promise<unknown>)[] = [
      () => engine.publish(svc, `n${rnd(4)}`, item(`i${rnd(8)}`, rnd(2000)), 'alice@h'),
      () => engine.retract(svc, `n${rnd(4)}`, [`i${rnd(8)}`], true),
      () => engine.purge(svc, `n${rnd(4)}`),
      () => engine.deleteNode(svc, `n${rnd(4)}`),
      () => engine.configure(svc, `n${rnd(4)}`, { max_items: 1 + rnd(5), title: 't'.repeat(rnd(40)) }),
      () => engine.subscribe(svc, `n${rnd(4)}`, `s${rnd(5)}@h`, undefined, rnd(2) ? 'pending' : 'subscribed'),
      () => engine.unsubscribe(svc, `n${rnd(4)}`, `s${rnd(5)}@h`),
      () => engine.setAffiliations(svc, `n${rnd(4)}`, new Map([[`a${rnd(3)}@h`, rnd(2) ? 'member' : 'none']])),
      () => engine.create(svc, `n${rnd(6)}`, {}, 'alice@h'),
    ];
    let refused = 0;
    for (let step = 0; step < 400; step++) {
      await ops[rnd(ops.length)]!().catch((err: unknown) => { if (String(err).includes('resource-constraint')) refused += 1; });
      expect(await engine.storedBytes(svc)).toBe(await recount(store, svc));
      expect(await engine.storedBytes(svc)).toBeLessThanOrEqual(limits.serviceBytes);
      if (step % 100 === 99) engine = new PubsubEngine(store, limits, () => undefined); // a restart counts afresh
    }
    expect(refused).toBeGreaterThan(0); // the limit was reached along the way
    await engine.deleteService(svc);
    expect(await engine.storedBytes(svc)).toBe(0);
  });

  it('refuses exactly the publish that would pass the limit', async () => {
    const store = createMemoryBackend().map<StoredNode>('h', 'pubsub');
    const engine = new PubsubEngine(store, { ...limits, maxItems: 100, serviceBytes: 70_000 }, () => undefined);
    await engine.create('s', 'n', { max_items: 100 });
    let i = 0;
    for (;;) {
      const before = await engine.storedBytes('s');
      try {
        await engine.publish('s', 'n', item(`i${i++}`, 3000), undefined);
      } catch (err) {
        expect(String(err)).toContain('resource-constraint');
        // It would have passed: the stored node grown by this item is over the limit.
        const node = (await store.get('s', 'n'))!;
        expect(before + nodeSize('n', { ...node, items: [node.items[0], ...node.items] }) - nodeSize('n', node)).toBeGreaterThan(70_000);
        expect(await engine.storedBytes('s')).toBe(before);
        break;
      }
      expect(await engine.storedBytes('s')).toBeLessThanOrEqual(70_000);
    }
    expect(i).toBeGreaterThan(10);
  });
});
