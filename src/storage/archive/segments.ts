// Segment files of one owner's archive: <owner dir>/NNNNNNNN.seg, append-only, each a run of
// records (./record.ts), rotated at SEGMENT_MAX bytes; <owner dir>/meta.json holds the owner's
// name and id key. This file reads and repairs them at open, and reads records back.
//
// Crash safety: a segment is fsynced before the next one is created, so only the last segment
// can end in a torn or half-written record; open checks every CRC of the last segment. At a bad
// record the scan looks for a whole record further on: if there is one, the bad one is damage
// in the middle (skipped, counted, the rest kept); if there is none, it is a torn end, and the
// last segment is truncated there (those bytes were never acknowledged, or are in the store's
// journal, which replays them after the scan: ./journal.ts). Earlier segments are read without CRC checks
// (fast open); queries check the CRC of every record they return.
import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isCode } from '../fs-sync.js';
import type { ArchiveIndex } from './index.js';
import { HEADER_PEEK, peekTime, readRecord, type ArchiveRecord } from './record.js';
import { loadSummary } from './summary.js';

/** Bytes after which a segment is closed and the next one started. */
export const SEGMENT_MAX = 4 * 1024 * 1024;
export const META_FILE = 'meta.json';
const SEG_RE = /^(\d{8})\.seg$/;
const SCAN_CHUNK = 1024 * 1024;

/** One segment file: its number, durable size, and the first sequence number it holds. */
export interface Segment {
  num: number;
  size: number;
  firstSeq: number;
}

/** The file name of segment `num`. */
export function segmentName(num: number): string {
  return `${String(num).padStart(8, '0')}.seg`;
}

/** What meta.json holds. */
export interface OwnerMeta {
  owner: string;
  key: string; // base64
}

/** meta.json of an owner directory, or undefined when there is none (no archive). */
export async function readMeta(dir: string): Promise<OwnerMeta | undefined> {
  try {
    const m = JSON.parse(await readFile(path.join(dir, META_FILE), 'utf8')) as OwnerMeta;
    if (typeof m.owner !== 'string' || typeof m.key !== 'string') throw new Error('bad meta');
    return m;
  } catch (e) {
    if (isCode(e, 'ENOENT', 'ENOTDIR')) return undefined;
    throw new Error(`${path.join(dir, META_FILE)}: unreadable archive metadata`, { cause: e });
  }
}

/** What scanning an owner's segments found. */
export interface ScanResult {
  segments: Segment[];
  /** Bytes cut from the end of the last segment (a torn or damaged final record). */
  truncated: number;
  /** Sealed segments whose scan stopped at a damaged record. */
  damaged: number;
}

/**
 * Read every segment of `dir` into `index` (oldest first), skipping damaged records and
 * truncating a torn end of the last segment. Reads in 1 MiB chunks, yielding between them.
 */
export async function scanSegments(dir: string, index: ArchiveIndex): Promise<ScanResult> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => SEG_RE.test(n)).sort();
  } catch (e) {
    if (isCode(e, 'ENOENT', 'ENOTDIR')) return { segments: [], truncated: 0, damaged: 0 };
    throw e;
  }
  const segments: Segment[] = [];
  let truncated = 0;
  let damaged = 0;
  let lastSeq = -1;
  // One buffer for the whole scan: a fresh 1 MiB per segment would leave the freed ones in the
  // allocator's arena (RSS that is never given back).
  const scratch = { buf: Buffer.allocUnsafe(SCAN_CHUNK) };
  for (let s = 0; s < names.length; s++) {
    const isLast = s === names.length - 1;
    const file = path.join(dir, names[s]!);
    const num = Number(SEG_RE.exec(names[s]!)![1]);
    const fh = await open(file, isLast ? 'r+' : 'r');
    try {
      const firstCount = index.length;
      let size = 0;
      // A closed segment with a summary that matches it needs no scan.
      if (!isLast && (await loadSummary(dir, num, (size = (await fh.stat()).size), index, lastSeq))) {
        if (index.length > firstCount) lastSeq = index.seqAt(index.length - 1);
        segments.push({ num, size, firstSeq: index.length > firstCount ? index.seqAt(firstCount) : lastSeq + 1 });
        continue;
      }
      for (let start = 0; ; ) {
        const r = await scanOne(fh, index, isLast, lastSeq, scratch, start);
        if (index.length > firstCount) lastSeq = index.seqAt(index.length - 1);
        size = r.fileSize;
        if (r.end >= r.fileSize) break;
        // A bad record. If whole records follow, it is damage in the middle: skip it and go on.
        // If none does, it is a torn end: cut it off the last segment (never acknowledged).
        const next = await findNextRecord(fh, r.end + 1, r.fileSize, lastSeq);
        if (next >= 0) {
          damaged++;
          start = next;
          continue;
        }
        if (isLast) {
          await fh.truncate(r.end);
          await fh.datasync();
          truncated += r.fileSize - r.end;
          size = r.end;
        } else damaged++;
        break;
      }
      const firstSeq = index.length > firstCount ? index.seqAt(firstCount) : lastSeq + 1;
      segments.push({ num, size, firstSeq });
    } finally {
      await fh.close();
    }
  }
  return { segments, truncated, damaged };
}

/** Scan one segment from `start`; `end` is the offset after the last good record. */
async function scanOne(
  fh: FileHandle,
  index: ArchiveIndex,
  checkCrc: boolean,
  prevSeq: number,
  scratch: { buf: Buffer },
  start: number,
): Promise<{ end: number; fileSize: number }> {
  const fileSize = (await fh.stat()).size;
  // Unread bytes move to the buffer's start before the next read; it grows only for a record
  // larger than it.
  let buf = scratch.buf;
  let len = 0; // valid bytes in buf
  let bufPos = start; // file offset of buf[0]
  let off = 0; // offset in buf of the next record
  let filePos = start;
  for (;;) {
    const r = readRecord(buf, off, checkCrc, false, len);
    if (r.kind === 'ok') {
      if (r.record.seq <= prevSeq) return { end: bufPos + off, fileSize };
      prevSeq = r.record.seq;
      index.push(r.record.seq, r.record.when, r.record.with, r.size, bufPos + off);
      off += r.size;
      continue;
    }
    if (r.kind === 'corrupt' || filePos >= fileSize) return { end: bufPos + off, fileSize };
    // Short: keep the unread tail and read more (a record may be larger than the buffer).
    buf.copy(buf, 0, off, len);
    len -= off;
    bufPos += off;
    off = 0;
    if (len === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, len);
      buf = scratch.buf = bigger;
    }
    const { bytesRead } = await fh.read(buf, len, Math.min(buf.length - len, fileSize - filePos), filePos);
    if (bytesRead === 0) return { end: bufPos + off, fileSize };
    filePos += bytesRead;
    len += bytesRead;
  }
}

/**
 * The offset of the first whole record (CRC checked, sequence number above `prevSeq`) at or
 * after `from`, or -1. Only runs on damage, so it may read the rest of the segment at once.
 */
async function findNextRecord(fh: FileHandle, from: number, fileSize: number, prevSeq: number): Promise<number> {
  if (from >= fileSize) return -1;
  const buf = Buffer.allocUnsafe(fileSize - from);
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, from + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  for (let p = 0; p + HEADER_PEEK <= got; p++) {
    // Cheap header checks first (kind, zero byte, sequence number); the CRC only for candidates.
    if (buf[p + 8]! > 1 || buf[p + 9] !== 0) continue;
    const seq = buf.readDoubleLE(p + 20);
    if (!(seq > prevSeq) || !Number.isSafeInteger(seq)) continue;
    const r = readRecord(buf, p, true, false, got);
    if (r.kind === 'ok') return from + p;
  }
  return -1;
}

/**
 * The time of the oldest record on disk, read from its header alone (no index built), or
 * undefined when there is none or it does not look right (then the caller opens the archive).
 * Lets an expiry run skip owners with nothing old enough without reading their archives.
 */
export async function oldestTime(dir: string): Promise<number | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => SEG_RE.test(n)).sort();
  } catch (e) {
    if (isCode(e, 'ENOENT', 'ENOTDIR')) return undefined;
    throw e;
  }
  for (const name of names) {
    const fh = await open(path.join(dir, name), 'r');
    try {
      const head = Buffer.alloc(HEADER_PEEK);
      const { bytesRead } = await fh.read(head, 0, HEADER_PEEK, 0);
      if (bytesRead === 0) continue; // an empty segment: look at the next one
      return peekTime(head.subarray(0, bytesRead));
    } finally {
      await fh.close();
    }
  }
  return undefined;
}

/** A record's place on disk. */
export interface RecordRef {
  seq: number;
  segment: number; // segment number
  offset: number;
  size: number;
}

/** The segment holding `seq` (the last one whose firstSeq ≤ seq). */
export function segmentOf(segments: readonly Segment[], seq: number): Segment {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (segments[mid]!.firstSeq <= seq) lo = mid;
    else hi = mid - 1;
  }
  return segments[lo]!;
}

/** Records whose bytes lie this close together are read with one read. */
const COALESCE_GAP = 16 * 1024;
const COALESCE_MAX = 1024 * 1024;

/**
 * Read records (in the order given), coalescing neighbours of one segment into single reads;
 * a record that fails its CRC (damaged on disk since the open) is undefined in the result.
 * `handle(num)` gives an open handle for a segment and a function to call after reading; every record's CRC and seq are checked.
 */
export async function readRecords(
  refs: readonly RecordRef[],
  handle: (num: number) => Promise<{ fh: FileHandle; done: () => Promise<void> }>,
): Promise<Array<ArchiveRecord | undefined>> {
  const out = new Array<ArchiveRecord | undefined>(refs.length);
  const order = refs.map((_, i) => i).sort((a, b) => refs[a]!.segment - refs[b]!.segment || refs[a]!.offset - refs[b]!.offset);
  const runs: number[][] = [];
  for (const i of order) {
    const run = runs[runs.length - 1];
    const prev = run === undefined ? undefined : refs[run[run.length - 1]!]!;
    const r = refs[i]!;
    if (run && prev && prev.segment === r.segment && r.offset - (prev.offset + prev.size) <= COALESCE_GAP && r.offset + r.size - refs[run[0]!]!.offset <= COALESCE_MAX) run.push(i);
    else runs.push([i]);
  }
  await Promise.all(
    runs.map(async (run) => {
      const first = refs[run[0]!]!;
      const last = refs[run[run.length - 1]!]!;
      const len = last.offset + last.size - first.offset;
      const buf = Buffer.allocUnsafe(len);
      const { fh, done } = await handle(first.segment);
      let got = 0;
      try {
        while (got < len) {
          const { bytesRead } = await fh.read(buf, got, len - got, first.offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
      } finally {
        await done();
      }
      for (const i of run) {
        const ref = refs[i]!;
        const r = readRecord(buf.subarray(0, got), ref.offset - first.offset, true, true);
        if (r.kind === 'ok' && r.record.seq === ref.seq) out[i] = r.record;
      }
    }),
  );
  return out;
}
