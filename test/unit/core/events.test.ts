import { describe, it, expect } from 'vitest';
import { EventBus } from '../../../src/core/events.js';

describe('EventBus', () => {
  it('runs handlers highest priority first and stops at the first defined result', () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.hook('server-stopping', () => { seen.push('low'); return 'low'; }, -10);
    bus.hook('server-stopping', () => { seen.push('high'); return undefined; }, 10);
    bus.hook('server-stopping', () => { seen.push('mid'); return 'mid'; }, 0);
    expect(bus.fire('server-stopping', { reason: 'x' })).toBe('mid');
    expect(seen).toEqual(['high', 'mid']);
  });

  it('keeps registration order for equal priorities', () => {
    const bus = new EventBus();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) bus.hook('server-stopping', () => { seen.push(i); });
    bus.fire('server-stopping', { reason: 'x' });
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('stays synchronous for sync handlers and awaits async ones in order', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.hook('server-stopping', async () => { await new Promise((r) => setTimeout(r, 5)); seen.push('a'); return undefined; }, 2);
    bus.hook('server-stopping', () => { seen.push('b'); return 42; }, 1);
    bus.hook('server-stopping', () => { seen.push('c'); return 0; }, 0);
    const r = bus.fire('server-stopping', { reason: 'x' });
    expect(r).toBeInstanceOf(Promise);
    expect(await r).toBe(42);
    expect(seen).toEqual(['a', 'b']);
    const sync = new EventBus();
    sync.hook('server-stopping', () => 'now');
    expect(sync.fire('server-stopping', { reason: 'x' })).toBe('now');
  });

  it('unhooks, and reports whether an event has listeners', () => {
    const bus = new EventBus();
    const off = bus.hook('server-stopping', () => 1);
    expect(bus.has('server-stopping')).toBe(true);
    off();
    expect(bus.has('server-stopping')).toBe(false);
    expect(bus.fire('server-stopping', { reason: 'x' })).toBeUndefined();
  });

  it('propagates a handler exception to the caller', async () => {
    const bus = new EventBus();
    bus.hook('server-stopping', () => { throw new Error('boom'); });
    expect(() => bus.fire('server-stopping', { reason: 'x' })).toThrow('boom');
    const abus = new EventBus();
    abus.hook('server-stopping', async () => { throw new Error('later'); });
    await expect(abus.fire('server-stopping', { reason: 'x' })).rejects.toThrow('later');
  });
});
