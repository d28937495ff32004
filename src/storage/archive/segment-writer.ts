// Segment write-behind. An append is acknowledged once its record is durable in the store's
// journal (./journal.ts) and in the index; its segment bytes wait here, per owner, and go to
// the segment file in larger writes: once an owner has WRITE_BEHIND_FLUSH bytes waiting, or
// WRITE_BEHIND_MS after the first of them, or when a read, a rotation, a deletion or a
// checkpoint needs them. Each thread-pool write then carries many records instead of one.
//
// Bounded in bytes: per owner (the owner waits for its write before journaling more) and
// across the owners of a backend (past the total every owner's bytes are written first). A
// record may only leave the journal once it is in a synced segment: a checkpoint calls
// syncSegment(), which writes what waits and fdatasyncs. A write that fails leaves the writer
// failed: its records stay in the journal (syncSegment keeps throwing, so no checkpoint empties
// it) and come back at the next start, and the owner reports the error to every later use.
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isCode } from '../fs-sync.js';
import { ArchiveWriteError } from '../store.js';
import type { SegmentSync } from './journal.js';
import { segmentName } from './segments.js';

/** Bytes waiting per owner after which its segment write starts at once. */
export const WRITE_BEHIND_FLUSH = 64 * 1024;
/** Bytes waiting (or being written) per owner past which it journals nothing more until they are written. */
export const WRITE_BEHIND_OWNER = 256 * 1024;
/** Bytes waiting across the owners of one backend past which every owner's are written first. */
export const WRITE_BEHIND_TOTAL = 16 * 1024 * 1024;
/** Milliseconds a record waits at most (with no read, rotation or checkpoint) before its write starts. */
export const WRITE_BEHIND_MS = 200;

/** Bounds of write-behind. */
export interface WriteBehindOptions {
  flushBytes?: number;
  ownerBytes?: number;
  totalBytes?: number;
  delayMs?: number;
}

/** The write-behind budget and timer shared by the owners of one backend. */
export class WriteBehind {
  /** Bytes held across writers (waiting or being written). */
  bytes = 0;
  /** Bytes of batches being journaled, to be held once durable (counted against the total). */
  private reserved = 0;
  readonly flushBytes: number;
  readonly ownerBytes: number;
  readonly totalBytes: number;
  private readonly delayMs: number;
  /** Writers holding bytes. */
  private readonly holding = new Set<SegmentWriter>();
  /** Writers with bytes no write has taken yet, for the timer. */
  private readonly waiting = new Set<SegmentWriter>();
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: WriteBehindOptions = {}) {
    this.flushBytes = opts.flushBytes ?? WRITE_BEHIND_FLUSH;
    this.ownerBytes = opts.ownerBytes ?? WRITE_BEHIND_OWNER;
    this.totalBytes = opts.totalBytes ?? WRITE_BEHIND_TOTAL;
    this.delayMs = opts.delayMs ?? WRITE_BEHIND_MS;
  }

  /** `w` now holds `n` more bytes, not yet being written. */
  held(w: SegmentWriter, n: number): void {
    this.bytes += n;
    this.holding.add(w);
    this.waiting.add(w);
    this.timer ??= setTimeout(() => this.tick(), this.delayMs).unref();
  }

  /** `w` holds `n` bytes fewer (written, or dropped after a failure). */
  released(w: SegmentWriter, n: number, empty: boolean): void {
    this.bytes -= n;
    if (empty) {
      this.holding.delete(w);
      this.waiting.delete(w);
    }
  }

  /** `w`'s waiting bytes were taken by a write. */
  taken(w: SegmentWriter): void {
    this.waiting.delete(w);
  }

  private tick(): void {
    this.timer = undefined;
    for (const w of [...this.waiting]) void w.flush().catch(() => undefined); // the writer keeps its error
  }

  /**
   * Reserve `n` bytes under the total, writing every owner's bytes first if they do not fit
   * (`unreserve(n)` once the batch is held or refused).
   */
  async reserve(n: number): Promise<void> {
    while (this.bytes + this.reserved > 0 && this.bytes + this.reserved + n > this.totalBytes) {
      if (this.holding.size === 0) await new Promise<void>((r) => setImmediate(r)); // only batches in the journal: wait for them
      else await Promise.allSettled([...this.holding].map((w) => w.flush()));
      // A failed writer drops its bytes; one that got new bytes meanwhile is written next round.
    }
    this.reserved += n;
  }

  /** Give back a reservation. */
  unreserve(n: number): void {
    this.reserved -= n;
  }

  /** Stop the timer (the backend is closed; close() wrote every writer). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** One owner's segment bytes not yet written, the append handle of its last segment, and the segments to sync at the next checkpoint. */
export class SegmentWriter implements SegmentSync {
  private fh: FileHandle | undefined;
  /** Segment of the bytes held, and the file offset of the first of them. */
  private num = 0;
  private start = 0;
  /** Bytes held: waiting in `chunks`, then being written. */
  private heldBytes = 0;
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private writing: Promise<void> | undefined;
  /** Segments written to without a sync since the journal's last checkpoint. */
  private readonly unsynced = new Set<number>();
  /** Set once a write failed: the records held then are only in the journal. */
  failed: ArchiveWriteError | undefined;

  constructor(
    readonly dir: string,
    readonly owner: string,
    private readonly wb: WriteBehind,
  ) {}

  /** The write-behind bounds this writer is held to. */
  get budget(): WriteBehind {
    return this.wb;
  }

  /** Bytes held (waiting or being written). */
  get held(): number {
    return this.heldBytes;
  }

  /** The append handle of segment `num`, opened with `opener` unless it is open. */
  async handle(num: number, opener: () => Promise<FileHandle>): Promise<FileHandle> {
    if (this.fh && this.num !== num) throw new Error(`segment ${this.num} is still open for appends`);
    this.num = num;
    this.fh ??= await opener();
    return this.fh;
  }

  /** Hold `buf` (whole records, durable in the journal) to be written at `offset` of segment `num`. */
  add(num: number, offset: number, buf: Buffer): void {
    if (this.failed) return; // the owner fails every use; the journal keeps the records
    if (this.heldBytes === 0) {
      this.num = num;
      this.start = offset;
    } else if (num !== this.num || offset !== this.start + this.heldBytes) throw new Error('segment write-behind out of order');
    this.chunks.push(buf);
    this.chunkBytes += buf.length;
    this.heldBytes += buf.length;
    this.unsynced.add(num);
    this.wb.held(this, buf.length);
    if (this.chunkBytes >= this.wb.flushBytes) void this.flush().catch(() => undefined);
  }

  /** True when bytes before `end` of segment `num` are not written yet. */
  unwrittenBefore(num: number, end: number): boolean {
    return this.heldBytes > 0 && num === this.num && end > this.start;
  }

  /** Throw the error of a failed write, if any. */
  check(): void {
    if (this.failed) throw this.failed;
  }

  /** Write every byte held now (in one write, after any write in flight); throws once a write failed. */
  async flush(): Promise<void> {
    const target = this.start + this.heldBytes;
    const num = this.num;
    for (;;) {
      this.check();
      if (this.heldBytes === 0 || this.num !== num || this.start >= target) return;
      if (this.writing) await this.writing.catch(() => undefined);
      else this.writing = this.writeOut().finally(() => (this.writing = undefined));
    }
  }

  private async writeOut(): Promise<void> {
    const chunks = this.chunks;
    const len = this.chunkBytes;
    this.chunks = [];
    this.chunkBytes = 0;
    this.wb.taken(this);
    const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, len);
    const at = this.start;
    try {
      const fh = this.fh;
      if (!fh) throw new Error('no append handle');
      for (let done = 0; done < len; ) done += (await fh.write(buf, done, len - done, at + done)).bytesWritten;
    } catch (e) {
      // The records held stay in the journal only: drop them here (bounded memory) and fail.
      this.failed = new ArchiveWriteError(this.owner, e);
      this.chunks = [];
      this.chunkBytes = 0;
      const n = this.heldBytes;
      this.heldBytes = 0;
      this.wb.released(this, n, true);
      throw this.failed;
    }
    this.start += len;
    this.heldBytes -= len;
    this.wb.released(this, len, this.heldBytes === 0);
  }

  /** Write what is held, fdatasync the last segment and close its handle (it is full: the next one starts). */
  async seal(): Promise<void> {
    await this.flush();
    await this.fh?.datasync();
    this.unsynced.delete(this.num);
    await this.closeHandle();
  }

  /** Close the append handle; nothing may be held (write or drop it first). */
  async closeHandle(): Promise<void> {
    if (this.heldBytes > 0) throw new Error('segment bytes still held');
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  /** The owner's archive is being deleted after a failed write: forget what is held and what to sync. */
  discard(): void {
    this.chunks = [];
    this.chunkBytes = 0;
    this.wb.released(this, this.heldBytes, true);
    this.heldBytes = 0;
    this.unsynced.clear();
    this.failed = undefined;
  }

  /** Write what is held, then fdatasync every segment written since the last checkpoint (each through a handle of its own: the append handle may be closed by now). */
  async syncSegment(): Promise<void> {
    await this.flush();
    for (const num of [...this.unsynced]) {
      this.unsynced.delete(num);
      try {
        const fh = await open(path.join(this.dir, segmentName(num)), 'r');
        try {
          await fh.datasync();
        } finally {
          await fh.close();
        }
      } catch (e) {
        if (isCode(e, 'ENOENT', 'ENOTDIR')) continue; // deleted: nothing to keep
        this.unsynced.add(num);
        throw e;
      }
    }
  }
}
