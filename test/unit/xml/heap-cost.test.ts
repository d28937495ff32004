// heapCost(): the estimate that bounds queues of element trees in bytes.
import { describe, expect, it } from 'vitest';
import { x } from '../../../src/xml/element.js';
import { heapCost } from '../../../src/xml/heap-cost.js';

describe('heapCost', () => {
  it('charges text by its length and each element and attribute a fixed overhead', () => {
    const text = heapCost(x('message', null, x('body', null, 'y'.repeat(10_000))));
    expect(text).toBeGreaterThan(10_000);
    expect(text).toBeLessThan(11_000);
    // 1,000 empty elements: 4 KiB of XML, but far more heap than that.
    const many = x('message', null, ...Array.from({ length: 1000 }, () => x('a')));
    expect(many.toString().length).toBeLessThan(5_000);
    expect(heapCost(many)).toBeGreaterThan(100_000);
    expect(heapCost(x('a', { b: '', c: '' }))).toBeGreaterThan(heapCost(x('a')) + 2 * 30);
  });
});
