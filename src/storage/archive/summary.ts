// Summary files: when a segment is full and closed, its index entries are written next to it
// (NNNNNNNN.idx), so opening the archive reads ~24 bytes an item instead of every record. A
// summary is only a shortcut: it names the size of the segment it describes and ends with a
// CRC, and one that is missing, damaged or describes another size (the oldest segment is
// rewritten shorter by deletions) is ignored and the segment is scanned as before.
//
//   "CLVX" · u32 version 1 · u32 items · f64 segment size · u32 names ·
//   names × (u16 length · UTF-8) · items × (u32 seq · f64 when · u32 size · u32 offset · u32 name) ·
//   u32 CRC-32 of everything before it
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from '../../lazy-builtins.js';
import { isCode } from '../fs-sync.js';
import type { ArchiveIndex } from './index.js';

const MAGIC = 0x58564c43; // "CLVX" little-endian
const ITEM = 24;

/** The summary file name of segment `num`. */
export function summaryName(num: number): string {
  return `${String(num).padStart(8, '0')}.idx`;
}

/** Write the summary of index positions [from, to), all in segment `num` of `segSize` bytes. */
export async function writeSummary(dir: string, num: number, segSize: number, ix: ArchiveIndex, from: number, to: number): Promise<void> {
  const names = new Map<string, number>();
  const nameBufs: Buffer[] = [];
  const nameOf = new Uint32Array(to - from);
  for (let p = from; p < to; p++) {
    const w = ix.withAt(p);
    let n = names.get(w);
    if (n === undefined) {
      names.set(w, (n = nameBufs.length));
      nameBufs.push(Buffer.from(w, 'utf8'));
    }
    nameOf[p - from] = n;
  }
  let size = 24 + (to - from) * ITEM + 4; // header, items, CRC
  for (const b of nameBufs) size += 2 + b.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(1, 4);
  out.writeUInt32LE(to - from, 8);
  out.writeDoubleLE(segSize, 12);
  out.writeUInt32LE(nameBufs.length, 20);
  let o = 24;
  for (const b of nameBufs) {
    out.writeUInt16LE(b.length, o);
    b.copy(out, o + 2);
    o += 2 + b.length;
  }
  for (let p = from; p < to; p++, o += ITEM) {
    out.writeUInt32LE(ix.seqAt(p), o);
    out.writeDoubleLE(ix.timeAt(p), o + 4);
    out.writeUInt32LE(ix.sizeAt(p), o + 12);
    out.writeUInt32LE(ix.offsetAt(p), o + 16);
    out.writeUInt32LE(nameOf[p - from]!, o + 20);
  }
  out.writeUInt32LE(crc32(out.subarray(0, o)), o);
  // No fsync: a summary lost or torn in a crash is detected (CRC, size) and the segment scanned.
  const file = path.join(dir, summaryName(num));
  await writeFile(`${file}.tmp`, out, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/**
 * Push the items of segment `num` (now `segSize` bytes) from its summary into `ix`; false (and
 * nothing pushed) when there is no usable summary. Sequence numbers must exceed `prevSeq`.
 */
export async function loadSummary(dir: string, num: number, segSize: number, ix: ArchiveIndex, prevSeq: number): Promise<boolean> {
  let b: Buffer;
  try {
    b = await readFile(path.join(dir, summaryName(num)));
  } catch (e) {
    if (isCode(e, 'ENOENT')) return false;
    throw e;
  }
  if (b.length < 28 || b.readUInt32LE(0) !== MAGIC || b.readUInt32LE(4) !== 1 || b.readDoubleLE(12) !== segSize) return false;
  if (crc32(b.subarray(0, b.length - 4)) !== b.readUInt32LE(b.length - 4)) return false;
  const count = b.readUInt32LE(8);
  const names: string[] = [];
  let o = 24;
  for (let n = b.readUInt32LE(20); n > 0; n--) {
    if (o + 2 > b.length) return false;
    const len = b.readUInt16LE(o);
    names.push(b.toString('utf8', o + 2, o + 2 + len));
    o += 2 + len;
  }
  if (o + count * ITEM + 4 !== b.length) return false;
  // Check before pushing anything, so a bad summary leaves the index as it was.
  for (let i = 0, p = o, prev = prevSeq; i < count; i++, p += ITEM) {
    const seq = b.readUInt32LE(p);
    if (seq <= prev || b.readUInt32LE(p + 20) >= names.length) return false;
    prev = seq;
  }
  for (let i = 0; i < count; i++, o += ITEM) {
    ix.push(b.readUInt32LE(o), b.readDoubleLE(o + 4), names[b.readUInt32LE(o + 20)]!, b.readUInt32LE(o + 12), b.readUInt32LE(o + 16));
  }
  return true;
}

/** Remove the summary of segment `num`, if any. */
export async function removeSummary(dir: string, num: number): Promise<void> {
  await unlink(path.join(dir, summaryName(num))).catch((e: unknown) => {
    if (!isCode(e, 'ENOENT')) throw e;
  });
}
