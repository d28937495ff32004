// The write-ahead journal shared by every owner of one archive store directory
// (<store dir>/journal.wal). It lets appends of many owners share one durable write: every
// record queued while a journal write is in flight goes into the next one (one write() on an
// O_DSYNC handle), whoever its owner. Once a record is durable here its owner holds it for its
// segment file and writes it there later, without a sync (write-behind: ./segment-writer.ts); a
// checkpoint has every owner written to since the last one write what it holds and fdatasync
// its segments, and only then empties the journal. At the next open, records of the journal not
// yet in their owner's segments are written there again (by sequence number: idempotent).
//
// Journal record: u32 body length · u32 CRC-32 of the body · body, little-endian;
// body = u16 length of the owner's directory name · that name (UTF-8) · the segment record.
// A torn tail (a write cut by a crash: never acknowledged) fails its CRC and is ignored.
import { constants } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from '../../lazy-builtins.js';
import { isCode, syncDir } from '../fs-sync.js';

/** File name of the journal in a store directory ('.' is escaped in owner names, so no owner has it). */
export const JOURNAL_FILE = 'journal.wal';
/** Bytes of journal after which a checkpoint empties it. */
export const JOURNAL_MAX = 32 * 1024 * 1024;
/** Bytes per journal write at most (the records queued beyond go into the next one). */
const WRITE_MAX = 4 * 1024 * 1024;
const OPEN_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC;

/** What a checkpoint needs of an owner: write the records it holds and make its segment writes so far durable. */
export interface SegmentSync {
  syncSegment(): Promise<void>;
}

interface Entry {
  buf: Buffer;
  owner: SegmentSync;
  /** Called as soon as the record is durable, before anything else (a checkpoint) can run. */
  durable: () => void;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A journal write refused: the journal is past twice its bound and a checkpoint cannot empty it. */
export class JournalFullError extends Error {
  override name = 'JournalFullError';
  constructor(cause: unknown) {
    super(`archive journal full: a checkpoint failed (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
  }
}

/** Encode one journal record: the owner's directory name and its segment record. */
export function encodeJournalRecord(dir: string, record: Buffer): Buffer {
  const name = Buffer.from(dir, 'utf8');
  const b = Buffer.allocUnsafe(8 + 2 + name.length + record.length);
  b.writeUInt32LE(b.length - 8, 0);
  b.writeUInt16LE(name.length, 8);
  name.copy(b, 10);
  record.copy(b, 10 + name.length);
  b.writeUInt32LE(crc32(b.subarray(8)), 4);
  return b;
}

/** The journal's records by owner directory name (oldest first), up to the first bad one. */
export function parseJournal(b: Buffer): { records: Map<string, Buffer[]>; end: number } {
  const records = new Map<string, Buffer[]>();
  let off = 0;
  while (off + 10 <= b.length) {
    const len = b.readUInt32LE(off);
    if (len < 2 || off + 8 + len > b.length || crc32(b.subarray(off + 8, off + 8 + len)) !== b.readUInt32LE(off + 4)) break;
    const nameLen = b.readUInt16LE(off + 8);
    if (2 + nameLen > len) break;
    const dir = b.toString('utf8', off + 10, off + 10 + nameLen);
    let list = records.get(dir);
    if (!list) records.set(dir, (list = []));
    list.push(Buffer.from(b.subarray(off + 10 + nameLen, off + 8 + len)));
    off += 8 + len;
  }
  return { records, end: off };
}

/** The journal of one store directory. */
export class Journal {
  private fh: FileHandle | undefined;
  private size = 0;
  private queue: Entry[] = [];
  /**
   * What the records in the journal file (since its last truncation) need before it can be
   * emptied: their owners' held records written and their segments synced.
   */
  private writtenOwners = new Set<SegmentSync>();
  /** Why the last checkpoint failed (cleared by one that succeeds). */
  private checkpointError: unknown;
  private flushing: Promise<void> | undefined;
  private checkpointing: Promise<void> | undefined;
  /** Checkpoints started because the journal passed `maxBytes`. */
  checkpoints = 0;
  /** Durable writes made, and the owners' batches of records they carried (how well group commit batches). */
  readonly written = { writes: 0, entries: 0 };

  constructor(
    readonly storeDir: string,
    private readonly maxBytes = JOURNAL_MAX,
  ) {}

  get file(): string {
    return path.join(this.storeDir, JOURNAL_FILE);
  }

  /** The records a crash left in the journal (a torn tail is left out), by owner directory name. */
  async recover(): Promise<Map<string, Buffer[]>> {
    let b: Buffer;
    try {
      b = await readFile(this.file);
    } catch (e) {
      if (isCode(e, 'ENOENT', 'ENOTDIR')) return new Map();
      throw e;
    }
    return parseJournal(b).records;
  }

  /**
   * Make `buf` (an owner's segment records) durable in the journal; resolves once it is.
   * `durable` runs synchronously when it is, so the owner holds the records for its segment
   * (`owner`, synced by a checkpoint) before any checkpoint can start.
   */
  append(dir: string, buf: Buffer, owner: SegmentSync, durable: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ buf: encodeJournalRecord(dir, buf), owner, durable, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.flushing || this.checkpointing || this.queue.length === 0) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      this.kick();
    });
  }

  /** Write the queue, every record queued meanwhile in one durable write. */
  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0 && !this.checkpointing) {
      let n = 0;
      let bytes = 0;
      while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.buf.length <= WRITE_MAX)) bytes += this.queue[n++]!.buf.length;
      const batch = this.queue.splice(0, n);
      const start = this.size;
      if (this.size > 2 * this.maxBytes && this.checkpointError !== undefined) {
        // Checkpoints fail (a segment write or sync failed): never grow without bound.
        const err = new JournalFullError(this.checkpointError);
        for (const x of batch) x.reject(err);
        this.checkpoints++;
        void this.checkpoint().catch(() => undefined); // try again: the next write waits for it
        continue;
      }
      try {
        const fh = await this.handle();
        const buf = batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((e) => e.buf), bytes);
        // O_DSYNC: durable when write() returns — one call for every owner's records.
        for (let done = 0; done < buf.length; ) done += (await fh.write(buf, done, buf.length - done, start + done)).bytesWritten;
      } catch (e) {
        await this.fh?.truncate(start).catch(() => undefined);
        for (const x of batch) x.reject(e);
        continue;
      }
      this.size = start + bytes;
      this.written.writes++;
      this.written.entries += batch.length;
      // Keep no record bytes: only the owners, whose records a checkpoint must see written.
      for (const x of batch) {
        this.writtenOwners.add(x.owner);
        try {
          x.durable();
        } catch (e) {
          x.reject(e); // the owner's bug, not the journal's: the others go on
          continue;
        }
        x.resolve();
      }
      if (this.size > this.maxBytes) {
        // Past the bound: empty the journal (this loop stops; writes wait for the checkpoint).
        this.checkpoints++;
        void this.checkpoint().catch(() => undefined); // retried after the next write
      }
    }
  }

  private async handle(): Promise<FileHandle> {
    if (this.fh) return this.fh;
    const fh = await open(this.file, OPEN_FLAGS, 0o600);
    await syncDir(this.storeDir); // the journal's name is durable before anything in it counts
    this.size = (await fh.stat()).size;
    this.fh = fh;
    return fh;
  }

  /**
   * Make every record in the journal durable in its segment (each owner written to since the
   * last checkpoint writes what it holds and fdatasyncs), then empty the journal; if any of
   * that fails, the journal keeps everything. Journal writes wait meanwhile. Run before
   * a deletion, so a replay cannot bring deleted items back.
   */
  checkpoint(): Promise<void> {
    this.checkpointing ??= this.runCheckpoint().finally(() => {
      this.checkpointing = undefined;
      this.kick();
    });
    return this.checkpointing;
  }

  private async runCheckpoint(): Promise<void> {
    while (this.flushing) await this.flushing;
    try {
      // Every owner's held records are written and synced before a byte of the journal goes.
      for (const r of await Promise.allSettled([...this.writtenOwners].map((o) => o.syncSegment()))) if (r.status === 'rejected') throw r.reason;
      if (this.fh && this.size > 0) {
        await this.fh.truncate(0);
        await this.fh.datasync();
      }
    } catch (e) {
      this.checkpointError = e;
      throw e;
    }
    this.checkpointError = undefined;
    this.size = 0;
    this.writtenOwners = new Set();
  }

  /** Empty the journal (after a recovery wrote its records to their segments, durably). */
  async clear(): Promise<void> {
    const fh = await open(this.file, 'r+').catch((e: unknown) => {
      if (isCode(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw e;
    });
    if (!fh) return;
    try {
      await fh.truncate(0);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  /** Checkpoint and close the file. */
  async close(): Promise<void> {
    while (this.flushing || this.checkpointing) await (this.flushing ?? this.checkpointing);
    try {
      await this.checkpoint(); // when it fails, the journal keeps its records for the next start
    } finally {
      const fh = this.fh;
      this.fh = undefined;
      await fh?.close();
    }
  }
}
