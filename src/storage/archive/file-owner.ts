// One owner's archive in the file backend: the index in memory, the records in segment files
// (./segments.ts). Appends are group-committed across owners: a batch of records goes to the
// store's journal (./journal.ts: one durable write for every owner's batch queued meanwhile).
// An append resolves once its record is durable in the journal and in the index; its segment
// bytes are held and written later in larger writes, without a sync (write-behind:
// ./segment-writer.ts; a checkpoint of the journal writes and fsyncs them before emptying it).
// Reads that reach held records write them first. Nothing here blocks the event loop.
//
// Queries and writes share the owner; deletions (age, truncation, the whole owner) wait until
// no query or write is running and run alone.
import { constants } from 'node:fs';
import { open, rename, rm, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ArchiveBusyError, type ArchiveItem, type ArchiveLimits, type ArchivePage, type ArchiveQuery } from '../store.js';
import { isCode, makeDirDurable, syncDir } from '../fs-sync.js';
import { IdCodec, newIdKey } from './ids.js';
import { emptyPage, OwnerState, type NewItem } from './owner.js';
import { Gate } from './gate.js';
import type { Journal } from './journal.js';
import { SegmentWriter, type WriteBehind } from './segment-writer.js';
import { encodeRecord, readRecord } from './record.js';
import { removeSummary, writeSummary } from './summary.js';
import { META_FILE, readMeta, readRecords, scanSegments, segmentName, segmentOf, SEGMENT_MAX, type RecordRef, type Segment } from './segments.js';

/** Bytes of appends waiting to be journaled per owner before further appends are refused. */
export const PENDING_MAX = 16 * 1024 * 1024;
/**
 * Records per write. Bounds the burst of work when a batch is
 * acknowledged (every waiting append resolves at once), so the event loop is never held long.
 */
const BATCH_MAX = 256;
/** Flags of the append handle: no O_DSYNC (the journal makes records durable); new segments exclusive. */
const APPEND_OPEN = constants.O_RDWR;
const APPEND_CREATE = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL;
/** Idle read handles kept open per owner (a 1M-message archive has ~90 segments). */
const READ_HANDLES = 32;

interface Pending {
  buf: Buffer;
  seq: number;
  when: number;
  with: string;
  size: number;
  resolve: (id: string) => void;
  reject: (e: unknown) => void;
}

/** One owner's archive directory, opened. */
export class FileOwner {
  /** Undefined until the owner's archive exists (meta.json written or read). */
  private state: OwnerState | undefined;
  private segments: Segment[] = [];
  private readonly readFhs = new Map<number, { fh: FileHandle; refs: number }>();
  private queue: Pending[] = [];
  /** Segment bytes held until written, the append handle, and the segments a checkpoint syncs. */
  readonly writer: SegmentWriter;
  /** Bytes of memory the cache last counted for this owner (its running total). */
  countedBytes = 0;
  private flushing: Promise<void> | undefined;
  private readonly gate = new Gate();
  private opened: Promise<void> | undefined;
  private creating: Promise<void> | undefined;
  /** Operations running (for idle detection by the cache). */
  private users = 0;
  /** Bytes cut from a torn last record when the archive was opened. */
  truncatedAtOpen = 0;
  damagedAtOpen = 0;

  constructor(
    readonly dir: string,
    readonly owner: string,
    /** Resolves when a previous instance of this directory is gone (after a deletion). */
    private readonly after: Promise<unknown>,
    /** The journal of the store directory this owner is in. */
    private readonly journal: Journal,
    writeBehind: WriteBehind,
  ) {
    this.writer = new SegmentWriter(dir, owner, writeBehind);
  }

  /**
   * True when nothing runs, waits or is held and the owner may be dropped from memory. An owner
   * whose segment write failed stays: a new instance would not know the records only the journal has.
   */
  idle(): boolean {
    return this.users === 0 && this.queue.length === 0 && this.flushing === undefined && !this.gate.busy && this.writer.held === 0 && !this.writer.failed;
  }

  /** Bytes of memory this owner holds. */
  memoryBytes(): number {
    return (this.state?.index.memoryBytes() ?? 0) + this.segments.length * 64 + 512;
  }

  /** Run f with the owner open and counted as in use. */
  private async use<R>(f: () => Promise<R>): Promise<R> {
    this.users++;
    try {
      this.opened ??= this.load();
      await this.opened;
      return await f();
    } finally {
      this.users--;
    }
  }

  private async load(): Promise<void> {
    await this.after.catch(() => undefined);
    const meta = await readMeta(this.dir);
    if (meta === undefined) {
      // No meta: no archive. Segments without one are leftovers of an interrupted deletion.
      await rm(this.dir, { recursive: true, force: true });
      return;
    }
    const state = new OwnerState(meta.owner, new IdCodec(Buffer.from(meta.key, 'base64')), 0);
    const scan = await scanSegments(this.dir, state.index);
    const ix = state.index;
    state.nextSeq = ix.length === 0 ? 0 : ix.seqAt(ix.length - 1) + 1;
    this.segments = scan.segments;
    this.truncatedAtOpen = scan.truncated;
    this.damagedAtOpen = scan.damaged;
    this.state = state;
  }

  /** Create the archive: directory and meta.json with a fresh id key, durably. */
  private async create(): Promise<OwnerState> {
    const key = newIdKey();
    await makeDirDurable(this.dir);
    const meta = path.join(this.dir, META_FILE);
    const tmp = `${meta}.tmp`;
    await writeFile(tmp, JSON.stringify({ owner: this.owner, key: key.toString('base64') }), { mode: 0o600, flush: true });
    await rename(tmp, meta);
    await syncDir(this.dir);
    return new OwnerState(this.owner, new IdCodec(key), 0);
  }

  /** Append an item; `queued` is called once its record is in the queue (ArchiveStore.append). */
  append(item: NewItem, limits: Required<ArchiveLimits>, queued?: () => void): Promise<string> {
    // Fast path, no await before queueing: the archive is open and exists.
    if (this.state) {
      try {
        return this.enqueue(this.state, item, limits, queued);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.use(async () => {
      // One creation however many appends wait for it (checked again inside the gate).
      this.creating ??= this.gate.alone(async () => {
        this.state ??= await this.create();
      });
      await this.creating.finally(() => (this.creating = undefined));
      return this.enqueue(this.state!, item, limits, queued);
    });
  }

  /** Accept an item and queue its record; the promise resolves once it is durable. */
  private enqueue(st: OwnerState, item: NewItem, limits: Required<ArchiveLimits>, queued: (() => void) | undefined): Promise<string> {
    this.writer.check();
    if (st.pendingBytes > PENDING_MAX) throw new ArchiveBusyError(this.owner);
    const r = st.accept(item, limits);
    const buf = encodeRecord(r);
    st.pendingItems++;
    st.pendingBytes += r.size;
    const id = new Promise<string>((resolve, reject) => this.queue.push({ buf, seq: r.seq, when: r.when, with: r.with, size: r.size, resolve, reject }));
    this.kick();
    queued?.();
    return id;
  }

  /** Start writing the queue unless a write loop runs; a loop that ends looks at the queue again. */
  private kick(): void {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      this.kick(); // appends queued while the loop was finishing
    });
  }

  /** Write queued records until the queue is empty, one batch (per segment) at a time. */
  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      await this.gate.share(async () => {
        if (!this.state) {
          // The archive was deleted while these waited (an append racing deleteOwner).
          for (const p of this.queue.splice(0)) p.reject(new Error(`archive of '${this.owner}' was deleted while the append waited`));
          return;
        }
        const seg = await this.activeSegment();
        const wb = this.writer.budget;
        // Within the segment's room and the write-behind bound (one record always goes).
        let room = Math.max(Math.min(SEGMENT_MAX - seg.size, wb.ownerBytes), 1);
        let n = 0;
        let bytes = 0;
        while (n < this.queue.length && n < BATCH_MAX && (n === 0 || this.queue[n]!.size <= room)) {
          room -= this.queue[n]!.size;
          bytes += this.queue[n++]!.size;
        }
        // Room for the batch's segment bytes: this owner's held bytes written first if over its
        // bound, every owner's if over the total.
        if (this.writer.held > 0 && this.writer.held + bytes > wb.ownerBytes) await this.writer.flush().catch(() => undefined);
        await wb.reserve(bytes);
        const batch = this.queue.splice(0, n);
        try {
          await this.writeBatch(seg, batch);
        } finally {
          wb.unreserve(bytes);
        }
      });
    }
  }

  private async writeBatch(seg: Segment, batch: Pending[]): Promise<void> {
    const st = this.state!;
    const start = seg.size;
    const buf = batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((p) => p.buf));
    try {
      this.writer.check();
      // Durable in the journal (one write shared with other owners' batches); then, before any
      // checkpoint can run, held for the segment and in the index, and the appends resolve.
      await this.journal.append(path.basename(this.dir), buf, this.writer, () => {
        this.writer.add(seg.num, start, buf); // counted twice until unreserved: errs on the safe side
        let off = start;
        if (start === 0) seg.firstSeq = batch[0]!.seq;
        for (const p of batch) {
          st.index.push(p.seq, p.when, p.with, p.size, off);
          off += p.size;
          st.pendingItems--;
          st.pendingBytes -= p.size;
          p.resolve(st.codec.encode(p.seq));
        }
        seg.size = off;
      });
    } catch (e) {
      for (const p of batch) {
        st.pendingItems--;
        st.pendingBytes -= p.size;
        p.reject(e);
      }
    }
  }

  /** The segment appends go to, created or rotated as needed, with its handle open. */
  private async activeSegment(): Promise<Segment> {
    let seg: Segment | undefined = this.segments[this.segments.length - 1];
    if (seg && seg.size >= SEGMENT_MAX) {
      // Written and durable before the next segment exists: only the last segment can have a torn end.
      await this.writer.seal();
      // The segment is closed for good: its summary makes the next open skip reading it.
      const ix = this.state!.index;
      await writeSummary(this.dir, seg.num, seg.size, ix, ix.firstAtOrAfter(seg.firstSeq), ix.length).catch(() => undefined); // only a shortcut
      seg = undefined;
    }
    if (!seg) {
      const num = (this.segments[this.segments.length - 1]?.num ?? 0) + 1;
      await this.writer.handle(num, async () => {
        const fh = await open(path.join(this.dir, segmentName(num)), APPEND_CREATE, 0o600);
        await syncDir(this.dir); // the new name is durable before any record in it is acknowledged
        return fh;
      });
      seg = { num, size: 0, firstSeq: this.state!.nextSeq };
      this.segments.push(seg);
    }
    const num = seg.num;
    await this.writer.handle(num, () => open(path.join(this.dir, segmentName(num)), APPEND_OPEN));
    return seg;
  }

  query(q: ArchiveQuery): Promise<ArchivePage> {
    return this.use(() =>
      this.gate.share(async () => {
        this.writer.check();
        const st = this.state;
        if (!st) return emptyPage(q);
        const sel = st.index.select(q, (id) => st.codec.decode(id));
        const items = await this.items(st, sel.positions);
        return { items, count: sel.count, index: sel.index, complete: sel.complete };
      }),
    );
  }

  get(id: string): Promise<ArchiveItem | undefined> {
    return this.use(() =>
      this.gate.share(async () => {
        this.writer.check();
        const st = this.state;
        const seq = st?.codec.decode(id);
        const pos = seq === undefined ? -1 : st!.index.positionOf(seq);
        return pos < 0 ? undefined : (await this.items(st!, [pos]))[0];
      }),
    );
  }

  metadata(): Promise<ReturnType<OwnerState['metadata']>> {
    return this.use(async () => {
      this.writer.check();
      return this.state?.metadata() ?? { count: 0, bytes: 0 };
    });
  }

  /** Items at index positions, read from their segments. */
  private async items(st: OwnerState, positions: number[]): Promise<ArchiveItem[]> {
    const ix = st.index;
    const refs: RecordRef[] = positions.map((p) => {
      const seq = ix.seqAt(p);
      return { seq, segment: segmentOf(this.segments, seq).num, offset: ix.offsetAt(p), size: ix.sizeAt(p) };
    });
    // Built before the reads: positions only shift under a deletion, which waits for us anyway.
    const shells = positions.map((p) => st.item(p, ''));
    // Records still held for the segment are written first (one write of all it holds).
    if (refs.some((r) => this.writer.unwrittenBefore(r.segment, r.offset + r.size))) await this.writer.flush();
    const recs = await readRecords(refs, (num) => this.readHandle(num));
    // A record damaged on disk is left out of the page rather than failing every query that
    // reaches it (the page is then shorter than asked; count still includes it).
    const out: ArchiveItem[] = [];
    shells.forEach((s, i) => {
      const r = recs[i];
      if (r) out.push({ ...s, payload: r.payload });
    });
    return out;
  }

  /** A read handle for segment `num`; call `done` after reading. Idle handles past READ_HANDLES are closed. */
  private async readHandle(num: number): Promise<{ fh: FileHandle; done: () => Promise<void> }> {
    let h = this.readFhs.get(num);
    if (!h) {
      const fh = await open(path.join(this.dir, segmentName(num)), 'r');
      h = this.readFhs.get(num); // another query may have opened it meanwhile
      if (h) await fh.close();
      else this.readFhs.set(num, (h = { fh, refs: 0 }));
    } else {
      this.readFhs.delete(num); // most recently used goes last
      this.readFhs.set(num, h);
    }
    const held = h;
    held.refs++;
    return {
      fh: held.fh,
      done: async () => {
        held.refs--;
        for (const [n, x] of this.readFhs) {
          if (this.readFhs.size <= READ_HANDLES) break;
          if (x.refs > 0) continue;
          this.readFhs.delete(n);
          await x.fh.close();
        }
      },
    };
  }

  /**
   * Delete the oldest items: those older than `before` and/or beyond the newest `keep`.
   * Resolves with how many went and whether the archive is now empty (and gone).
   */
  dropOldest(opts: { keep?: number; before?: number }): Promise<number> {
    return this.use(() =>
      this.gate.alone(async () => {
        this.writer.check();
        const st = this.state;
        if (!st) return 0;
        const n = st.dropCount(opts);
        if (n === 0) return 0;
        // No record of this owner may stay in the journal: a replay would bring it back. The
        // checkpoint also writes and syncs what this owner holds, so the segments are whole.
        await this.journal.checkpoint();
        if (n >= st.index.length && this.queue.length === 0) await this.removeAll();
        else await this.cutBefore(st, n);
        return n;
      }),
    );
  }

  /** Remove the records at positions [0, n) from disk and index (all of them only while appends are queued). */
  private async cutBefore(st: OwnerState, n: number): Promise<void> {
    const ix = st.index;
    const keepSeq = n < ix.length ? ix.seqAt(n) : (this.queue[0]?.seq ?? st.nextSeq);
    // Whole segments first, oldest first: a crash leaves a shorter but consistent archive.
    while (this.segments.length > 1 && this.segments[1]!.firstSeq <= keepSeq) {
      const seg = this.segments.shift()!;
      await this.closeRead(seg.num);
      await removeSummary(this.dir, seg.num);
      await unlink(path.join(this.dir, segmentName(seg.num))).catch((e) => {
        if (!isCode(e, 'ENOENT')) throw e;
      });
    }
    await syncDir(this.dir);
    const head = this.segments[0];
    let shift = 0;
    if (head && head.firstSeq < keepSeq) {
      // The head segment holds deleted records: rewrite it from the first kept one (temp file,
      // fsync, rename), so deleted messages do not stay on disk.
      shift = n < ix.length && segmentOf(this.segments, keepSeq) === head ? ix.offsetAt(n) : head.size;
      const file = path.join(this.dir, segmentName(head.num));
      const tmp = `${file}.tmp`;
      await this.closeRead(head.num);
      await removeSummary(this.dir, head.num); // describes the old, longer file
      const isActive = head === this.segments[this.segments.length - 1];
      if (isActive) await this.writer.closeHandle();
      const src = await open(file, 'r');
      const dst = await open(tmp, 'w', 0o600);
      try {
        const buf = Buffer.allocUnsafe(Math.min(head.size - shift, 1024 * 1024));
        for (let pos = shift; pos < head.size; ) {
          const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, head.size - pos), pos);
          if (bytesRead === 0) break;
          await dst.write(buf, 0, bytesRead);
          pos += bytesRead;
        }
        await dst.sync();
      } finally {
        await src.close();
        await dst.close();
      }
      await rename(tmp, file);
      await syncDir(this.dir);
      head.size -= shift;
      head.firstSeq = keepSeq;
    }
    ix.dropOldest(n);
    if (shift > 0) {
      let inHead = 0;
      while (inHead < ix.length && segmentOf(this.segments, ix.seqAt(inHead)) === head) inHead++;
      ix.shiftOffsets(inHead, shift);
    }
  }

  /** Delete the whole archive (waits for queued appends to be written first). */
  destroy(): Promise<void> {
    return this.use(async () => {
      while (this.flushing) await this.flushing;
      await this.gate.alone(async () => {
        // Records only the journal has (a failed segment write) go with the archive.
        if (this.writer.failed) this.writer.discard();
        await this.journal.checkpoint(); // a replay must not bring the deleted archive back
        await this.removeAll();
      });
    });
  }

  private async removeAll(): Promise<void> {
    await this.closeHandles();
    // meta.json goes first: without it the directory is no archive, whatever else survives a crash.
    try {
      await unlink(path.join(this.dir, META_FILE));
      await syncDir(this.dir);
    } catch (e) {
      if (!isCode(e, 'ENOENT', 'ENOTDIR')) throw e;
    }
    await rm(this.dir, { recursive: true, force: true });
    this.state = undefined;
    this.segments = [];
  }

  private async closeRead(num: number): Promise<void> {
    const h = this.readFhs.get(num);
    this.readFhs.delete(num);
    await h?.fh.close();
  }

  /** Close every file handle (the owner is being dropped from memory or deleted). */
  async closeHandles(): Promise<void> {
    const all = [...this.readFhs.values()];
    this.readFhs.clear();
    await Promise.allSettled([...all.map((h) => h.fh.close()), this.writer.closeHandle()]);
  }

  /**
   * Write the records a crash left in the journal (batches of segment records, oldest first) that are
   * not in the segments yet (sequence number above the last one there), durably. Idempotent.
   */
  replay(records: Buffer[]): Promise<number> {
    return this.use(() =>
      this.gate.alone(async () => {
        const st = this.state;
        if (!st) return 0; // deleted (meta.json gone): nothing to bring back
        await this.writer.flush(); // nothing is held at a recovery; written in file order if it were
        let n = 0;
        let fh: FileHandle | undefined;
        // A journal record holds one write batch of the owner: one or more segment records.
        for (const batch of records) {
          for (let off = 0; off < batch.length; ) {
            const r = readRecord(batch, off, true, false);
            if (r.kind !== 'ok') break;
            const buf = batch.subarray(off, (off += r.size));
            if (r.record.seq < st.nextSeq) continue;
            const seg = await this.activeSegment();
            fh = await this.writer.handle(seg.num, () => Promise.reject(new Error('no append handle')));
            for (let done = 0; done < buf.length; ) done += (await fh.write(buf, done, buf.length - done, seg.size + done)).bytesWritten;
            if (seg.size === 0) seg.firstSeq = r.record.seq;
            st.index.push(r.record.seq, r.record.when, r.record.with, r.size, seg.size);
            seg.size += buf.length;
            st.nextSeq = r.record.seq + 1;
            n++;
          }
        }
        if (n > 0) await fh?.datasync();
        return n;
      }),
    );
  }

  /** Wait until queued appends are written. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }
}
