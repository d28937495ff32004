// The pubsub engine's affiliations and subscriber lists (what the pubsub component's owner
// operations need). References: XEP-0060 §4.1, §8.8, §8.9.
import { describe, it, expect } from 'vitest';
import { createMemoryBackend } from '../../../src/storage/memory.js';
import { PubsubEngine, type Affiliation, type StoredNode } from '../../../src/modules/pubsub/engine.js';

function engine(subscribers = 10): PubsubEngine {
  const store = createMemoryBackend().map<StoredNode>('pubsub.localhost', 'pubsub');
  return new PubsubEngine(store, { maxItems: 10, itemBytes: 1024, nodes: 10, serviceBytes: 1 << 20, subscribers }, () => undefined);
}
const affs = (...pairs: [string, Affiliation][]): Map<string, Affiliation> => new Map(pairs);

describe('pubsub engine affiliations', () => {
  it('stores, lists and removes affiliations per node', async () => {
    const e = engine();
    await e.create('s', 'n');
    await e.create('s', 'm');
    await e.setAffiliations('s', 'n', affs(['a@x', 'owner'], ['b@x', 'publisher']));
    await e.setAffiliations('s', 'm', affs(['b@x', 'member']));
    expect(await e.affiliations('s', 'n')).toEqual({ 'a@x': 'owner', 'b@x': 'publisher' });
    expect([...await e.affiliationsOf('s', 'b@x')]).toEqual([['n', 'publisher'], ['m', 'member']]);
    await e.setAffiliations('s', 'n', affs(['b@x', 'none']));
    expect(await e.affiliations('s', 'n')).toEqual({ 'a@x': 'owner' });
  });

  it('keeps a JID named __proto__ like any other', async () => {
    const e = engine();
    await e.create('s', 'n');
    await e.setAffiliations('s', 'n', affs(['__proto__', 'member']));
    expect([...await e.affiliationsOf('s', '__proto__')]).toEqual([['n', 'member']]);
  });

  it('drops the subscriptions of a JID made outcast, bare and full', async () => {
    const e = engine();
    await e.create('s', 'n');
    await e.subscribe('s', 'n', 'b@x');
    await e.subscribe('s', 'n', 'b@x/phone');
    await e.subscribe('s', 'n', 'c@x');
    await e.setAffiliations('s', 'n', affs(['b@x', 'outcast']));
    expect(await e.subscribers('s', 'n')).toEqual(['c@x']);
  });

  it('bounds affiliations per node and refuses unknown nodes', async () => {
    const e = engine(2);
    await e.create('s', 'n');
    await expect(e.setAffiliations('s', 'n', affs(['a@x', 'member'], ['b@x', 'member'], ['c@x', 'member']))).rejects.toMatchObject({ condition: 'policy-violation' });
    expect(await e.affiliations('s', 'n')).toEqual({});
    await expect(e.affiliations('s', 'nope')).rejects.toMatchObject({ condition: 'item-not-found' });
    await expect(e.subscribers('s', 'nope')).rejects.toMatchObject({ condition: 'item-not-found' });
  });
});
