// The pieces that bound federation work: the group-commit writer behind the s2s queue, the
// token bucket for dialback-triggered connections, and the queue admission rule.
import { describe, expect, it } from 'vitest';
import { BatchWriter } from '../../../src/stream/batch-writer.js';
import { LINK_QUEUE_STANZAS, SENDER_QUEUE_BYTES, TOTAL_QUEUE_BYTES, TokenBucket, queueRefusal } from '../../../src/stream/s2s-limits.js';

describe('BatchWriter', () => {
  it('shares one follow-up write among callers that arrive during a write, each resolved after a write that saw its data', async () => {
    const written: number[] = [];
    let state = 0;
    let release: (() => void) | undefined;
    const w = new BatchWriter(async () => {
      const snapshot = state;
      await new Promise<void>((r) => (release = r));
      written.push(snapshot);
    });
    state = 1;
    const first = w.request();
    const later: Promise<void>[] = [];
    for (let i = 2; i <= 50; i++) {
      state = i;
      later.push(w.request());
    }
    release!();
    await first;
    expect(written).toEqual([1]);
    await new Promise((r) => setImmediate(r));
    release!();
    await Promise.all(later);
    expect(written).toEqual([1, 50]); // 50 requests, two writes; the second saw the last state
    expect(w.idle).toBe(true);
  });

  it('rejects the callers of a failed write, and the next request writes again', async () => {
    let fail = true;
    const w = new BatchWriter(async () => {
      if (fail) throw new Error('ENAMETOOLONG');
    });
    await expect(w.request()).rejects.toThrow('ENAMETOOLONG');
    fail = false;
    await expect(w.request()).resolves.toBeUndefined();
  });
});

describe('TokenBucket', () => {
  it('gives a burst, then one token per interval', () => {
    let now = 0;
    const b = new TokenBucket(5, 10_000, () => now);
    expect(Array.from({ length: 8 }, () => b.take()).filter(Boolean)).toHaveLength(5);
    now += 9_999;
    expect(b.take()).toBe(false);
    now += 1;
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
  });
});

describe('queueRefusal', () => {
  const none = { stanzas: 0, bytes: 0 };
  it('admits within every cap and names the cap that refuses', () => {
    expect(queueRefusal(none, none, 0, 100)).toBeUndefined();
    expect(queueRefusal({ stanzas: LINK_QUEUE_STANZAS, bytes: 0 }, none, 0, 1)).toMatch(/waiting for this server/);
    expect(queueRefusal(none, { stanzas: 1, bytes: SENDER_QUEUE_BYTES }, 0, 1)).toMatch(/you have too many/);
    expect(queueRefusal(none, none, TOTAL_QUEUE_BYTES, 1)).toMatch(/the server has too much/);
  });
});
