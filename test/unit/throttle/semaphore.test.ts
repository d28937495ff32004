import { describe, expect, it } from 'vitest';
import { BusyError, Semaphore } from '../../../src/throttle/semaphore.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Semaphore', () => {
  it('runs at most `limit` jobs at once, in arrival order', async () => {
    const s = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(Array.from({ length: 10 }, (_, i) => s.run(async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      await sleep(5);
      running--;
    })));
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('refuses refusable jobs once the queue is full, but queues the others', async () => {
    const s = new Semaphore(1, 2);
    const held = s.run(() => sleep(30));
    const queued = [s.run(async () => 1, true), s.run(async () => 2, true)];
    await expect(s.run(async () => 3, true)).rejects.toBeInstanceOf(BusyError);
    const patient = s.run(async () => 4);
    expect(s.waiting).toBe(3);
    await held;
    expect(await Promise.all([...queued, patient])).toEqual([1, 2, 4]);
    expect(s.waiting).toBe(0);
  });

  it('gives the slot back when a job throws', async () => {
    const s = new Semaphore(1);
    await expect(s.run(async () => { throw new Error('x'); })).rejects.toThrow('x');
    expect(await s.run(async () => 'ok')).toBe('ok');
  });
});
