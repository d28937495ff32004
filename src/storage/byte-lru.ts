// A least-recently-used map bounded by the summed cost of its entries (characters, bytes).

/** Map from key to value, dropping the least recently used entries once their cost passes `max`. */
export class ByteLru<V> {
  private readonly map = new Map<string, { value: V; cost: number }>();
  private used = 0;

  constructor(private readonly max: number) {}

  /** The value, now the most recently used; undefined when absent. */
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** Keep `value` at `cost` (not kept when the cost alone is over the bound). */
  set(key: string, value: V, cost: number): void {
    this.delete(key);
    if (cost > this.max) return;
    this.map.set(key, { value, cost });
    this.used += cost;
    for (const [k, e] of this.map) {
      if (this.used <= this.max) break;
      this.map.delete(k);
      this.used -= e.cost;
    }
  }

  /** True when the key was there. */
  delete(key: string): boolean {
    const e = this.map.get(key);
    if (!e) return false;
    this.map.delete(key);
    this.used -= e.cost;
    return true;
  }

  clear(): void {
    this.map.clear();
    this.used = 0;
  }

  get bytes(): number {
    return this.used;
  }
}
