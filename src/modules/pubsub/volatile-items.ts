// Items of nodes with persist_items off: kept in memory only, so they are bounded in bytes here,
// per service (the same budget as stored items) and over all services.
// References: XEP-0060 §16.4.4 (pubsub#persist_items).
import { StanzaError } from '../../core/errors.js';
import type { StoredItem } from './engine.js';

/** Bytes of all services' in-memory items together. */
export const VOLATILE_TOTAL_BYTES = 64 * 1024 * 1024;

const sizeOf = (items: readonly StoredItem[]): number => JSON.stringify(items).length;

export class VolatileItems {
  private readonly items = new Map<string, { items: StoredItem[]; bytes: number }>();
  private readonly perService = new Map<string, number>();
  private total = 0;

  constructor(private readonly serviceBytes: number, private readonly totalBytes = VOLATILE_TOTAL_BYTES) {}

  get(service: string, node: string): StoredItem[] {
    return this.items.get(`${service}\0${node}`)?.items ?? [];
  }

  /** Replace a node's items; resource-constraint (and nothing changed) when that passes a bound. */
  set(service: string, node: string, items: StoredItem[]): void {
    const key = `${service}\0${node}`;
    const before = this.items.get(key)?.bytes ?? 0;
    const bytes = sizeOf(items);
    const grow = bytes - before;
    const mine = this.perService.get(service) ?? 0;
    if (grow > 0 && (mine + grow > this.serviceBytes || this.total + grow > this.totalBytes)) {
      throw new StanzaError('resource-constraint', 'no room for more items in memory');
    }
    this.items.set(key, { items, bytes });
    this.perService.set(service, mine + grow);
    this.total += grow;
  }

  delete(service: string, node: string): void {
    const key = `${service}\0${node}`;
    const e = this.items.get(key);
    if (!e) return;
    this.items.delete(key);
    const left = (this.perService.get(service) ?? 0) - e.bytes;
    if (left > 0) this.perService.set(service, left);
    else this.perService.delete(service);
    this.total -= e.bytes;
  }
}
