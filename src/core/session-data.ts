// `session.data`: the modules' per-session state, as a Map that holds no table while it is empty.
//
// Why: every client session has one and most idle sessions hold nothing in it; an empty Map
// still costs ~0.2 KB (its hash table), a Map that once held an entry ~0.4 KB, for the session's
// whole life. This one makes its table on the first set() and drops it when the last entry goes.

const NOTHING: ReadonlyMap<string, never> = new Map<string, never>();

/** A Map<string, V> whose storage exists only while it has entries. */
export class SessionData<V = unknown> implements Map<string, V> {
  private table: Map<string, V> | undefined;

  get size(): number {
    return this.table?.size ?? 0;
  }

  get(key: string): V | undefined {
    return this.table?.get(key);
  }

  has(key: string): boolean {
    return this.table?.has(key) ?? false;
  }

  set(key: string, value: V): this {
    (this.table ??= new Map()).set(key, value);
    return this;
  }

  delete(key: string): boolean {
    const t = this.table;
    if (t === undefined || !t.delete(key)) return false;
    if (t.size === 0) this.table = undefined;
    return true;
  }

  clear(): void {
    this.table = undefined;
  }

  forEach(fn: (value: V, key: string, map: Map<string, V>) => void, thisArg?: unknown): void {
    this.table?.forEach((v, k) => fn.call(thisArg, v, k, this));
  }

  entries(): MapIterator<[string, V]> {
    return (this.table ?? NOTHING).entries();
  }

  keys(): MapIterator<string> {
    return (this.table ?? NOTHING).keys();
  }

  values(): MapIterator<V> {
    return (this.table ?? NOTHING).values();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Map';
  }
}
