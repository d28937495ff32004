// The in-memory index of one owner's archive, shared by the file and memory backends so both
// answer queries the same way. Columns are typed arrays in chunks of 16,384 entries (no object
// per item, no copy of a whole column as it grows, little spare room): sequence number, time,
// interned `with`, record size and file offset — 24 bytes an item — plus one 4-byte entry
// in the posting list of the item's bare `with`. Items are in append order, which is also time
// order (append raises an older time to the newest), so time bounds are binary searches, and a
// posting list (sequence numbers of one bare JID's items, ascending) answers "with X" without
// looking at anyone else's items.
//
// References: XEP-0313 (Message Archive Management) §4.1 filters, XEP-0059 (Result Set
// Management) paging.

import { ARCHIVE_QUERY_MAX, ArchiveItemNotFoundError, type ArchiveQuery } from '../store.js';

const CHUNK_BITS = 14;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

/**
 * A growable column of numbers: one small typed array doubling up to CHUNK entries (most
 * archives are small), then whole chunks added, never copied.
 */
class Column<A extends Uint32Array | Float64Array> {
  private readonly chunks: A[];
  n = 0;

  constructor(private readonly make: new (n: number) => A) {
    this.chunks = [new make(4)];
  }

  get(i: number): number {
    return this.chunks[i >>> CHUNK_BITS]![i & MASK]!;
  }

  set(i: number, v: number): void {
    this.chunks[i >>> CHUNK_BITS]![i & MASK] = v;
  }

  /** Append v; returns the bytes the column grew by. */
  push(v: number): number {
    const c = this.n >>> CHUNK_BITS;
    let grew = 0;
    if (c === 0 && this.n === this.chunks[0]!.length) {
      const first = new this.make(Math.min(CHUNK, this.n * 2));
      first.set(this.chunks[0]!);
      grew = (first.length - this.n) * first.BYTES_PER_ELEMENT;
      this.chunks[0] = first;
    } else if (c === this.chunks.length) {
      const chunk = new this.make(CHUNK);
      grew = chunk.byteLength;
      this.chunks.push(chunk);
    }
    this.chunks[c]![this.n++ & MASK] = v;
    return grew;
  }
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
  private seqs = new Column(Uint32Array);
  private times = new Column(Float64Array);
  private withs = new Column(Uint32Array);
  private sizes = new Column(Uint32Array);
  /** Where the record starts in its segment file (file backend; 0 in memory). */
  private offsets = new Column(Uint32Array);
  private withIds = new Map<string, number>();
  private withNames: string[] = [];
  private withBare: number[] = [];
  private bareIds = new Map<string, number>();
  private postings: Array<Column<Uint32Array>> = [];
  /** Bytes of the columns, posting lists and interned names (kept up to date: read after every operation). */
  private heldBytes = 0;

  /** Add an item after the last one; its seq must exceed the last seq. */
  push(seq: number, when: number, withJid: string, size: number, offset: number): void {
    const w = this.intern(withJid);
    this.length++;
    this.heldBytes += this.seqs.push(seq) + this.times.push(when) + this.withs.push(w) + this.sizes.push(size) + this.offsets.push(offset);
    this.heldBytes += this.postings[this.withBare[w]!]!.push(seq);
    this.bytes += size;
  }

  seqAt(pos: number): number {
    return this.seqs.get(pos);
  }

  timeAt(pos: number): number {
    return this.times.get(pos);
  }

  sizeAt(pos: number): number {
    return this.sizes.get(pos);
  }

  offsetAt(pos: number): number {
    return this.offsets.get(pos);
  }

  /** Move the file offsets of positions [0, count) by −delta (their segment was rewritten shorter). */
  shiftOffsets(count: number, delta: number): void {
    for (let i = 0; i < count; i++) this.offsets.set(i, this.offsets.get(i) - delta);
  }

  /** The `with` of the item at `pos`. */
  withAt(pos: number): string {
    return this.withNames[this.withs.get(pos)]!;
  }

  /** Newest time, or -Infinity when empty. */
  lastTime(): number {
    return this.length === 0 ? -Infinity : this.times.get(this.length - 1);
  }

  /** Position of the item with sequence number `seq`, or -1. */
  positionOf(seq: number): number {
    const p = lowerBound((i) => this.seqs.get(i), 0, this.length, seq);
    return p < this.length && this.seqs.get(p) === seq ? p : -1;
  }

  /** Position of the first item whose seq is ≥ `seq` (length when none). */
  firstAtOrAfter(seq: number): number {
    return lowerBound((i) => this.seqs.get(i), 0, this.length, seq);
  }

  /** Number of items with `when` < t. */
  countBefore(t: number): number {
    return lowerBound((i) => this.times.get(i), 0, this.length, t);
  }

  /** Bytes held by this index (typed arrays at their capacity, interned names, posting lists). */
  memoryBytes(): number {
    return 1000 + this.heldBytes;
  }

  /** Drop the `n` oldest items; returns the bytes their records held. */
  dropOldest(n: number): number {
    n = Math.min(n, this.length);
    if (n === 0) return 0;
    const before = this.bytes;
    const old = { seqs: this.seqs, times: this.times, withs: this.withs, sizes: this.sizes, offsets: this.offsets, length: this.length, names: this.withNames };
    // Rebuild from what remains, so names and posting lists of deleted items go too.
    this.length = 0;
    this.bytes = 0;
    this.heldBytes = 0;
    this.seqs = new Column(Uint32Array);
    this.times = new Column(Float64Array);
    this.withs = new Column(Uint32Array);
    this.sizes = new Column(Uint32Array);
    this.offsets = new Column(Uint32Array);
    this.withIds = new Map();
    this.withNames = [];
    this.withBare = [];
    this.bareIds = new Map();
    this.postings = [];
    for (let i = n; i < old.length; i++) this.push(old.seqs.get(i), old.times.get(i), old.names[old.withs.get(i)]!, old.sizes.get(i), old.offsets.get(i));
    return before - this.bytes;
  }

  /** The page `q` selects; ids are decoded with `decode` (undefined = not an id of this archive). */
  select(q: ArchiveQuery, decode: (id: string) => number | undefined): Selection {
    const lo = q.start === undefined ? 0 : this.countBefore(q.start);
    const hi = q.end === undefined ? this.length : lowerBound((i) => this.times.get(i), lo, this.length, nextUp(q.end));
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
    const asked = q.limit !== undefined && Number.isFinite(q.limit) ? Math.floor(q.limit) : ARCHIVE_QUERY_MAX;
    const limit = Math.max(0, Math.min(ARCHIVE_QUERY_MAX, asked));
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
    let posting: SeqList | undefined;
    if (q.with !== undefined) {
      const bare = this.bareIds.get(bareOf(q.with));
      if (bare === undefined || lo === hi) return empty;
      if (q.with.includes('/')) {
        full = this.withIds.get(q.with) ?? -1;
        if (full < 0) return empty;
      }
      const p = this.postings[bare]!;
      const get = (i: number): number => p.get(i);
      const pl = lowerBound(get, 0, p.n, this.seqs.get(lo));
      const ph = lowerBound(get, pl, p.n, this.seqs.get(hi - 1) + 1);
      posting = { n: ph - pl, get: (i) => p.get(pl + i) };
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
      const a = Uint32Array.from(picked).sort();
      return { n: a.length, get: (i) => a[i]! };
    }
    if (posting === undefined) return { n: hi - lo, get: (i) => this.seqs.get(lo + i) };
    if (full < 0) return posting;
    // A full JID: the bare JID's items, those with exactly this `with`. Scan positions when the
    // bare JID's items are a large part of the range, else look each one up.
    const out: number[] = [];
    if (posting.n * 16 > hi - lo) {
      for (let i = lo; i < hi; i++) if (this.withs.get(i) === full) out.push(this.seqs.get(i));
    } else {
      for (let i = 0; i < posting.n; i++) {
        const seq = posting.get(i);
        if (this.withs.get(this.positionOf(seq)) === full) out.push(seq);
      }
    }
    return { n: out.length, get: (i) => out[i]! };
  }

  private withMatches(pos: number, withJid: string, full: number): boolean {
    if (full >= 0) return this.withs.get(pos) === full;
    return bareOf(this.withAt(pos)) === withJid;
  }

  private intern(withJid: string): number {
    let w = this.withIds.get(withJid);
    if (w !== undefined) return w;
    w = this.withNames.length;
    this.withIds.set(withJid, w);
    this.withNames.push(withJid);
    this.heldBytes += 2 * withJid.length + 120;
    const bare = bareOf(withJid);
    let b = this.bareIds.get(bare);
    if (b === undefined) {
      b = this.postings.length;
      this.bareIds.set(bare, b);
      this.postings.push(new Column(Uint32Array));
      this.heldBytes += 16 + 120;
    }
    this.withBare.push(b);
    return w;
  }
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
