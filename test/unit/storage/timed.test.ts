// Storage latency: every store call of a timed backend is reported by shape, the stores behave
// as before, and a failing call is timed too.
import { describe, expect, it } from 'vitest';
import { timedBackend, type StoreShape } from '../../../src/storage/timed.js';
import { createMemoryBackend } from '../../../src/storage/memory.js';

describe('timedBackend', () => {
  it('times keyval, map and archive calls and passes results and errors through', async () => {
    const seen: Array<[StoreShape, number]> = [];
    const backend = timedBackend(createMemoryBackend(), (shape, seconds) => seen.push([shape, seconds]));
    const kv = backend.keyval<number>('h', 'kv');
    await kv.set('alice', 3);
    expect(await kv.get('alice')).toBe(3);
    await backend.map<string>('h', 'm').set('alice', 'k', 'v');
    const archive = backend.archive('h', 'a');
    await archive.append('alice', { payload: 'x' });
    await expect(archive.query('alice', { after: 'no-such-id' })).rejects.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(seen.map((s) => s[0])).toEqual(['keyval', 'keyval', 'map', 'archive', 'archive']);
    expect(seen.every((s) => s[1] >= 0 && s[1] < 5)).toBe(true);
    await backend.close();
  });
});
