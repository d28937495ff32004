import { describe, expect, it } from 'vitest';
import { Backoff, ThrottledError, type BackoffOptions } from '../../../src/throttle/backoff.js';

const fast = (o: Partial<BackoffOptions> = {}): Backoff =>
  new Backoff({ firstDelayMs: 40, maxDelayMs: 160, maxWaitMs: 2000, maxEntries: 100, forgetMs: 60_000, ...o });
const wrong = async (): Promise<boolean> => false;
const right = async (): Promise<boolean> => true;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Backoff', () => {
  it('doubles the delay after each failure up to the cap', () => {
    const b = fast();
    expect([0, 1, 2, 3, 4, 10, 100].map((n) => b.delayAfter(n))).toEqual([0, 40, 80, 160, 160, 160, 160]);
  });

  it('spaces the checks of one key, however many run in parallel', async () => {
    const b = fast({ maxDelayMs: 80 });
    const times: number[] = [];
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 4 }, () => b.attempt('k', async () => { times.push(performance.now() - t0); return false; })));
    // Check n waits for the delay after failure n: 0, 40, 80, 80 ms apart.
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[1]).toBeGreaterThanOrEqual(75);
    expect(gaps[2]).toBeGreaterThanOrEqual(75);
    expect(b.failures('k')).toBe(4);
  });

  it('keeps keys apart', async () => {
    const b = fast();
    await b.attempt('a', wrong);
    const t0 = performance.now();
    expect(await b.attempt('b', right)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(30);
  });

  it('forgets the failures after a success and drops the entry', async () => {
    const b = fast();
    await b.attempt('k', wrong);
    await b.attempt('k', wrong);
    expect(b.failures('k')).toBe(2);
    expect(await b.attempt('k', right)).toBe(true);
    expect(b.failures('k')).toBe(0);
    expect(b.size).toBe(0);
  });

  it('forgets failures older than forgetMs', async () => {
    let now = 0;
    const b = fast({ forgetMs: 1000, now: () => now });
    await b.attempt('k', wrong);
    now = 500;
    expect(b.failures('k')).toBe(1);
    now = 2000;
    expect(b.failures('k')).toBe(0);
  });

  it('serves the newest waiting attempt first, so the first one after a flood goes next', async () => {
    const b = fast({ firstDelayMs: 100, maxDelayMs: 100 });
    await b.attempt('k', wrong); // now backing off for 100 ms
    const order: string[] = [];
    const flood = ['f1', 'f2', 'f3'].map((n) => b.attempt('k', async () => { order.push(n); return false; }));
    await sleep(10);
    const user = b.attempt('k', async () => { order.push('user'); return true; });
    expect(await user).toBe(true);
    await Promise.all(flood);
    expect(order[0]).toBe('user');
  });

  it('refuses attempts that wait too long, without counting them as failures', async () => {
    const b = fast({ firstDelayMs: 500, maxDelayMs: 500, maxWaitMs: 50 });
    await b.attempt('k', wrong);
    const e = await b.attempt('k', right).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ThrottledError);
    expect(b.failures('k')).toBe(1);
  });

  it('keeps no entry behind for a key whose attempts all ended without a failure', async () => {
    const b = fast({ maxWaitMs: 20 });
    const slow = b.attempt('k', async () => { await sleep(60); return true; });
    await expect(b.attempt('k', right)).rejects.toBeInstanceOf(ThrottledError);
    expect(await slow).toBe(true);
    expect(b.size).toBe(0);
  });

  it('refuses the oldest waiter when too many wait for one key', async () => {
    const b = fast({ firstDelayMs: 200, maxDelayMs: 200, maxWaiters: 2 });
    await b.attempt('k', wrong);
    const results = await Promise.allSettled([1, 2, 3].map(() => b.attempt('k', wrong)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
  });

  it('skips waiters whose connection has closed', async () => {
    const b = fast({ firstDelayMs: 50, maxDelayMs: 50 });
    await b.attempt('k', wrong);
    let ran = false;
    const gone = b.attempt('k', async () => { ran = true; return false; }, () => false);
    await expect(gone).rejects.toBeInstanceOf(ThrottledError);
    expect(ran).toBe(false);
  });

  it('does not count a check that throws (storage trouble)', async () => {
    const b = fast();
    await expect(b.attempt('k', async () => { throw new Error('disk'); })).rejects.toThrow('disk');
    expect(b.failures('k')).toBe(0);
    expect(await b.attempt('k', right)).toBe(true);
  });

  it('holds at most maxEntries keys, evicting the least recently used idle ones', async () => {
    const b = fast({ maxEntries: 100 });
    for (let i = 0; i < 1000; i++) await b.attempt(`u${i}`, wrong);
    expect(b.size).toBeLessThanOrEqual(100);
    expect(b.failures('u999')).toBe(1);
    expect(b.failures('u0')).toBe(0);
  });
});
