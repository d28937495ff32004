// createLogger's levels: a reload changes levels of the same destinations at once (the root
// level and each destination's own), and refuses (false, nothing changed) new destinations.
import { describe, it, expect } from 'vitest';
import { createLogger } from '../../../src/core/log.js';

function capture(): { lines: string[]; sink: { write(l: string): void } } {
  const lines: string[] = [];
  return { lines, sink: { write: (l: string) => { lines.push(JSON.parse(l).msg as string); } } };
}

describe('createLogger setLevels', () => {
  it('lowers and raises the level of a destination', () => {
    const { lines, sink } = capture();
    const made = createLogger([{ level: 'info', to: 'console' }], { console: sink });
    made.log.debug('d1');
    made.log.info('i1');
    expect(made.setLevels([{ level: 'debug', to: 'console' }])).toBe(true);
    made.log.debug('d2');
    expect(made.setLevels([{ level: 'warn', to: 'console' }])).toBe(true);
    made.log.info('i2');
    made.log.warn('w1');
    expect(lines).toEqual(['i1', 'd2', 'w1']);
  });

  it('keeps per-destination levels apart', () => {
    const { lines, sink } = capture();
    const made = createLogger([{ level: 'error', to: 'console' }], { console: sink });
    made.log.warn('w0');
    expect(made.setLevels([{ level: 'warn', to: 'console' }])).toBe(true);
    made.log.warn('w1');
    expect(lines).toEqual(['w1']);
  });

  it('refuses new destinations and changes nothing', () => {
    const { lines, sink } = capture();
    const made = createLogger([{ level: 'info', to: 'console' }], { console: sink });
    expect(made.setLevels([{ level: 'debug', to: '/tmp/clove-never-written.log' }])).toBe(false);
    expect(made.setLevels([{ level: 'debug', to: 'console' }, { level: 'error', to: 'console' }])).toBe(false);
    made.log.debug('d');
    made.log.info('i');
    expect(lines).toEqual(['i']);
  });
});
