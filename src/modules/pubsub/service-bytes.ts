// A running count of the bytes each service keeps in the pubsub store, so a publish checks
// `pep_max_bytes` / `pubsub_max_bytes` by measuring only the node it changes, not by
// serialising the whole service. A service's count is taken from the store the first time it
// is needed (after a restart, or after it was evicted from this bounded table) and then moved
// by every write the engine makes; the engine's writes to one service run one at a time, so the
// count never races.
import type { MapStore } from '../../storage/store.js';

/** What one stored node counts for: its key and its JSON text (the measure the limit has always used). */
export function nodeSize(node: string, value: unknown): number {
  return value === undefined ? 0 : node.length + JSON.stringify(value).length;
}

/** Services whose count is kept; past either bound the least recently used is dropped (and recounted when next used). */
export const BYTE_COUNT_SERVICES = 4096;
/** Characters of service names the table may hold. */
export const BYTE_COUNT_NAME_CHARS = 1024 * 1024;

export class ServiceBytes {
  private readonly totals = new Map<string, number>();
  private nameChars = 0;

  constructor(private readonly store: MapStore<unknown>, private readonly maxServices = BYTE_COUNT_SERVICES, private readonly maxNameChars = BYTE_COUNT_NAME_CHARS) {}

  /** The service's bytes as stored, counted from the store when not known. */
  async total(service: string): Promise<number> {
    const known = this.totals.get(service);
    if (known !== undefined) {
      this.totals.delete(service); // most recently used goes last
      this.totals.set(service, known);
      return known;
    }
    let bytes = 0;
    // Key by key: a node may be named '__proto__', which Object.entries still yields.
    for (const [k, v] of Object.entries(await this.store.getAll(service))) bytes += nodeSize(k, v);
    this.remember(service, bytes);
    return bytes;
  }

  /** Move a known count by `delta` after a write that succeeded (an unknown one is counted afresh when next needed). */
  moved(service: string, delta: number): void {
    const known = this.totals.get(service);
    if (known !== undefined) this.totals.set(service, known + delta);
  }

  /** Forget a service (its nodes were all deleted). */
  forget(service: string): void {
    if (this.totals.delete(service)) this.nameChars -= service.length;
  }

  private remember(service: string, bytes: number): void {
    this.totals.set(service, bytes);
    this.nameChars += service.length;
    for (const oldest of this.totals.keys()) {
      if (this.totals.size <= this.maxServices && this.nameChars <= this.maxNameChars) break;
      if (oldest === service) break;
      this.forget(oldest);
    }
  }
}
