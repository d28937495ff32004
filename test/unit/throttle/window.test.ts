import { describe, expect, it } from 'vitest';
import { SlidingWindow } from '../../../src/throttle/window.js';

describe('SlidingWindow', () => {
  it('allows `max` events per period and says how long to wait', () => {
    let now = 0;
    const w = new SlidingWindow(2, 10_000, () => now);
    expect(typeof w.take()).toBe('object');
    now = 1000;
    expect(typeof w.take()).toBe('object');
    expect(w.take()).toBe(9);
    now = 10_001;
    expect(typeof w.take()).toBe('object');
  });

  it('gives a released slot back', () => {
    const w = new SlidingWindow(1, 1000, () => 0);
    const slot = w.take();
    if (typeof slot === 'number') throw new Error('expected a slot');
    slot.release();
    expect(typeof w.take()).toBe('object');
  });
});
