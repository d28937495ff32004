// The in-memory index of one owner's archive, shared by the file and memory backends so both
// answer queries the same way. Columns are typed arrays (no object per item): sequence number,
// time, interned `with`, record size and file offset — 24 bytes an item — plus one 4-byte entry
// in the posting list of the item's bare `with`. Items are in append order, which is also time
// order (append raises an older time to the newest), so time bounds are binary searches, and a
// posting list (sequence numbers of one bare JID's items, ascending) answers "with X" without
// looking at anyone else's items.
//
// References: XEP-0313 (Message Archive Management) §4.1 filters, XEP-0059 (Result Set
// Management) paging.

import { ARCHIVE_QUERY_MAX, ArchiveItemNotFoundError, type ArchiveQuery } from '../store.js';

/** A growable Uint32Array. */
class U32List {
  a = new Uint32Array(4);
  n = 0;
  /** Append v; returns the bytes the list grew by. */
  push(v: number): number {
    let grew = 0;
    if (this.n === this.a.length) {
      this.a = resized(this.a, this.n * 2);
      grew = this.n * 4;
    }
    this.a[this.n++] = v;
    return grew;
  }
}

/** A copy of the first `n` entries of `a` in an array of capacity `cap`. */
function resized<A extends Uint32Array | Float64Array>(a: A, cap: number, n = a.length): A {
  const b = new (a.constructor as new (n: number) => A)(cap);
  b.set(a.subarray(0, n) as A);
  return b;
}

/** First i in [lo, hi) with get(i) ≥ v (hi when none); get must be non-decreasing. */
function lowerBound(get: (i: number) => number, lo: number, hi: number, v: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (get(mid) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The bare part of a JID as given (everything before the first '/'). */
export function bareOf(jid: string): string {
  const slash = jid.indexOf('/');
  return slash < 0 ? jid : jid.slice(0, slash);
}

/** The page a query selects: positions in the index, oldest first, and the RSM figures. */
export interface Selection {
  positions: number[];
  count: number;
  index: number;
  complete: boolean;
}

/** Sorted sequence numbers of the result set, read through get(i). */
interface SeqList {
  n: number;
  get(i: number): number;
}

/** One owner's index; positions are 0 … length−1, oldest first. */
export class ArchiveIndex {
  length = 0;
  /** Total record bytes (for the byte quota). */
  bytes = 0;
  seqs = new Uint32Array(16);
  times = new Float64Array(16);
  withs = new Uint32Array(16);
  sizes = new Uint32Array(16);
  /** Where the record starts in its segment file (file backend; 0 in memory). */
  offsets = new Uint32Array(16);
  private withIds = new Map<string, number>();
  private withNames: string[] = [];
  private withBare: number[] = [];
  private bareIds = new Map<string, number>();
  private postings: U32List[] = [];
  /** Bytes of the posting lists and interned names (kept up to date: read after every operation). */
  private sideBytes = 0;

  /** Add an item after the last one; its seq must exceed the last seq. */
  push(seq: number, when: number, withJid: string, size: number, offset: number): void {
    if (this.length === this.seqs.length) this.resize(this.length + (this.length >> 1));
    const i = this.length++;
    const w = this.intern(withJid);
    this.seqs[i] = seq;
    this.times[i] = when;
    this.withs[i] = w;
    this.sizes[i] = size;
    this.offsets[i] = offset;
    this.bytes += size;
    this.sideBytes += this.postings[this.withBare[w]!]!.push(seq);
  }

  /** Give every column room for `cap` items (at least the current length). */
  private resize(cap: number): void {
    cap = Math.max(cap, this.length, 16);
    this.seqs = resized(this.seqs, cap, this.length);
    this.times = resized(this.times, cap, this.length);
    this.withs = resized(this.withs, cap, this.length);
    this.sizes = resized(this.sizes, cap, this.length);
    this.offsets = resized(this.offsets, cap, this.length);
  }

  /** Release spare capacity (after an open has read every item). */
  compact(): void {
    if (this.seqs.length - this.length > 1024) this.resize(this.length + 1024);
    for (const p of this.postings) {
      if (p.a.length - p.n <= 64) continue;
      this.sideBytes -= (p.a.length - p.n - 16) * 4;
      p.a = resized(p.a, p.n + 16, p.n);
    }
  }

  /** The `with` of the item at `pos`. */
  withAt(pos: number): string {
    return this.withNames[this.withs[pos]!]!;
  }

  /** Newest time, or -Infinity when empty. */
  lastTime(): number {
    return this.length === 0 ? -Infinity : this.times[this.length - 1]!;
  }

  /** Position of the item with sequence number `seq`, or -1. */
  positionOf(seq: number): number {
    const p = lowerBound((i) => this.seqs[i]!, 0, this.length, seq);
    return p < this.length && this.seqs[p] === seq ? p : -1;
  }

  /** Number of items with `when` < t. */
  countBefore(t: number): number {
    return lowerBound((i) => this.times[i]!, 0, this.length, t);
  }

  /** Bytes held by this index (typed arrays at their capacity, interned names, posting lists). */
  memoryBytes(): number {
    return this.seqs.length * 24 + 200 + this.sideBytes;
  }

  /** Drop the `n` oldest items; resolves the bytes they held. */
  dropOldest(n: number): number {
    n = Math.min(n, this.length);
    if (n === 0) return 0;
    let freed = 0;
    for (let i = 0; i < n; i++) freed += this.sizes[i]!;
    const names = this.withNames;
    const old = { seqs: this.seqs, times: this.times, withs: this.withs, sizes: this.sizes, offsets: this.offsets, length: this.length };
    // Rebuild from what remains, so names and posting lists of deleted items go too.
    this.length = 0;
    this.bytes = 0;
    this.withIds = new Map();
    this.withNames = [];
    this.withBare = [];
    this.bareIds = new Map();
    this.postings = [];
    this.sideBytes = 0;
    let cap = 16;
    while (cap < old.length - n) cap *= 2;
    this.seqs = new Uint32Array(cap);
    this.times = new Float64Array(cap);
    this.withs = new Uint32Array(cap);
    this.sizes = new Uint32Array(cap);
    this.offsets = new Uint32Array(cap);
    for (let i = n; i < old.length; i++) this.push(old.seqs[i]!, old.times[i]!, names[old.withs[i]!]!, old.sizes[i]!, old.offsets[i]!);
    return freed;
  }

  /** The page `q` selects; ids are decoded with `decode` (undefined = not an id of this archive). */
  select(q: ArchiveQuery, decode: (id: string) => number | undefined): Selection {
    const lo = q.start === undefined ? 0 : this.countBefore(q.start);
    const hi = q.end === undefined ? this.length : lowerBound((i) => this.times[i]!, lo, this.length, nextUp(q.end));
    const set = this.resultSet(q, lo, Math.max(lo, hi), decode);
    const boundSeq = (id: string): number => {
      const seq = decode(id);
      if (seq === undefined || this.positionOf(seq) < 0) throw new ArchiveItemNotFoundError(id);
      return seq;
    };
    const get = (i: number): number => set.get(i);
    let from = 0;
    let to = set.n;
    if (q.after !== undefined) from = lowerBound(get, 0, set.n, boundSeq(q.after) + 1);
    if (typeof q.before === 'string') to = lowerBound(get, 0, set.n, boundSeq(q.before));
    to = Math.max(from, to);
    const limit = Math.max(0, Math.min(ARCHIVE_QUERY_MAX, Math.floor(q.limit ?? ARCHIVE_QUERY_MAX)));
    let first: number;
    let last: number;
    let complete: boolean;
    if (q.before !== undefined) {
      last = to;
      first = Math.max(from, to - limit);
      complete = first === from;
    } else {
      first = from;
      last = Math.min(to, from + limit);
      complete = last === to;
    }
    const positions: number[] = [];
    for (let i = first; i < last; i++) positions.push(this.positionOf(set.get(i)));
    return { positions, count: set.n, index: first, complete };
  }

  /** The sequence numbers matching the filters, within positions [lo, hi). */
  private resultSet(q: ArchiveQuery, lo: number, hi: number, decode: (id: string) => number | undefined): SeqList {
    const empty: SeqList = { n: 0, get: () => 0 };
    let full = -1;
    let posting: Uint32Array | undefined;
    if (q.with !== undefined) {
      const bare = this.bareIds.get(bareOf(q.with));
      if (bare === undefined || lo === hi) return empty;
      if (q.with.includes('/')) {
        full = this.withIds.get(q.with) ?? -1;
        if (full < 0) return empty;
      }
      const p = this.postings[bare]!;
      const a = p.a;
      const pl = lowerBound((i) => a[i]!, 0, p.n, this.seqs[lo]!);
      const ph = lowerBound((i) => a[i]!, pl, p.n, this.seqs[hi - 1]! + 1);
      posting = a.subarray(pl, ph);
    }
    if (q.ids !== undefined) {
      const picked = new Set<number>();
      for (const id of q.ids) {
        const seq = decode(id);
        if (seq === undefined) continue;
        const pos = this.positionOf(seq);
        if (pos < lo || pos >= hi) continue;
        if (q.with !== undefined && !this.withMatches(pos, q.with, full)) continue;
        picked.add(seq);
      }
      return fromArray(Uint32Array.from(picked).sort());
    }
    if (posting === undefined) return { n: hi - lo, get: (i) => this.seqs[lo + i]! };
    if (full < 0) return fromArray(posting);
    // A full JID: the bare JID's items, those with exactly this `with`. Scan positions when the
    // bare JID's items are a large part of the range, else look each one up.
    const out = new U32List();
    if (posting.length * 16 > hi - lo) {
      for (let i = lo; i < hi; i++) if (this.withs[i] === full) out.push(this.seqs[i]!);
    } else {
      for (const seq of posting) if (this.withs[this.positionOf(seq)] === full) out.push(seq);
    }
    return fromArray(out.a.subarray(0, out.n));
  }

  private withMatches(pos: number, withJid: string, full: number): boolean {
    if (full >= 0) return this.withs[pos] === full;
    return bareOf(this.withAt(pos)) === withJid;
  }

  private intern(withJid: string): number {
    let w = this.withIds.get(withJid);
    if (w !== undefined) return w;
    w = this.withNames.length;
    this.withIds.set(withJid, w);
    this.withNames.push(withJid);
    this.sideBytes += 2 * withJid.length + 120;
    const bare = bareOf(withJid);
    let b = this.bareIds.get(bare);
    if (b === undefined) {
      b = this.postings.length;
      this.bareIds.set(bare, b);
      this.postings.push(new U32List());
      this.sideBytes += 16 + 64;
    }
    this.withBare.push(b);
    return w;
  }
}

function fromArray(a: Uint32Array): SeqList {
  return { n: a.length, get: (i) => a[i]! };
}

/** The smallest double above t, so `end` (inclusive) becomes an exclusive bound. */
function nextUp(t: number): number {
  if (!Number.isFinite(t)) return t;
  const f = new Float64Array([t]);
  const u = new BigInt64Array(f.buffer);
  if (t === 0) return Number.MIN_VALUE;
  u[0] = t > 0 ? u[0]! + 1n : u[0]! - 1n;
  return f[0]!;
}
