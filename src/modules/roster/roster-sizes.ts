// How much of its budgets a stored roster uses: items and pending requests, counted and in bytes
// of stored JSON. Counted once when a roster is loaded, then updated per change from the one
// contact that changed, so checking a limit never serialises the whole roster.
import type { RosterLimits } from './roster-store.js';

/** Bytes an entry `"key":value,` takes in the stored JSON; 0 for no entry. */
function entryBytes(key: string, json: string | undefined): number {
  return json === undefined ? 0 : Buffer.byteLength(JSON.stringify(key)) + Buffer.byteLength(json) + 2;
}

const json = (v: unknown): string | undefined => (v === undefined ? undefined : JSON.stringify(v));

/** Which budget a change went past, if any. */
export type Overrun = 'items' | 'itemBytes' | 'pending' | undefined;

/** Counts and bytes of a roster's items and pending requests. */
export class RosterSizes {
  constructor(readonly items: number, readonly itemBytes: number, readonly pending: number, readonly pendingBytes: number) {}

  /** The sizes of a whole roster. */
  static of(items: Record<string, unknown>, pending: Record<string, unknown>): RosterSizes {
    let ib = 0;
    let pb = 0;
    for (const k of Object.keys(items)) ib += entryBytes(k, json(items[k]));
    for (const k of Object.keys(pending)) pb += entryBytes(k, json(pending[k]));
    return new RosterSizes(Object.keys(items).length, ib, Object.keys(pending).length, pb);
  }

  /** The sizes once one contact's item and request went from the saved JSON texts to these values. */
  after(key: string, itemBefore: string | undefined, pendingBefore: string | undefined, item: unknown, pending: unknown): RosterSizes {
    const ia = json(item);
    const pa = json(pending);
    const count = (b: string | undefined, a: string | undefined): number => (a !== undefined ? 1 : 0) - (b !== undefined ? 1 : 0);
    return new RosterSizes(
      this.items + count(itemBefore, ia),
      this.itemBytes + entryBytes(key, ia) - entryBytes(key, itemBefore),
      this.pending + count(pendingBefore, pa),
      this.pendingBytes + entryBytes(key, pa) - entryBytes(key, pendingBefore),
    );
  }

  /**
   * The budget these sizes exceed that `prev` did not already (a roster over a limit lowered
   * since may still shrink or stay the same, never grow).
   */
  over(prev: RosterSizes, limits: Readonly<RosterLimits>): Overrun {
    if (this.items > limits.items && this.items > prev.items) return 'items';
    if (this.itemBytes > limits.itemBytes && this.itemBytes > prev.itemBytes) return 'itemBytes';
    if ((this.pending > limits.pending && this.pending > prev.pending) || (this.pendingBytes > limits.pendingBytes && this.pendingBytes > prev.pendingBytes)) return 'pending';
    return undefined;
  }
}
