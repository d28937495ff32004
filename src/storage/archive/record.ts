// The record of one archived item, as written to a segment file and counted for quotas:
//
//   u32 body length · u32 CRC-32 of the body · body
//   body = u8 kind (0 = UTF-8 text payload, 1 = bytes) · u8 0 · u16 with length · f64 when ·
//          f64 seq · with (UTF-8) · payload
//
// Little-endian. The length and CRC let a reader tell a whole record from a torn or damaged one.
import { crc32 } from '../../lazy-builtins.js';
import { ARCHIVE_PAYLOAD_MAX, ARCHIVE_WITH_MAX, type ArchivePayload } from '../store.js';

/** Bytes of the frame (length and CRC). */
export const FRAME = 8;
/** Bytes of the body before `with`. */
const FIXED = 20;
/** Largest body a valid record can have. */
export const BODY_MAX = FIXED + ARCHIVE_WITH_MAX + ARCHIVE_PAYLOAD_MAX;

/** One record's fields. */
export interface ArchiveRecord {
  seq: number;
  when: number;
  with: string;
  payload: ArchivePayload;
}

/** The record of an item, framed (sizes already checked by recordSize()). */
export function encodeRecord(r: ArchiveRecord): Buffer {
  const w = Buffer.from(r.with, 'utf8');
  const text = typeof r.payload === 'string';
  const p = text ? Buffer.from(r.payload as string, 'utf8') : (r.payload as Uint8Array);
  const body = FIXED + w.length + p.length;
  const b = Buffer.allocUnsafe(FRAME + body);
  b.writeUInt32LE(body, 0);
  b[8] = text ? 0 : 1;
  b[9] = 0;
  b.writeUInt16LE(w.length, 10);
  b.writeDoubleLE(r.when, 12);
  b.writeDoubleLE(r.seq, 20);
  w.copy(b, 28);
  b.set(p, 28 + w.length);
  b.writeUInt32LE(crc32(b.subarray(FRAME)), 4);
  return b;
}

/** What readRecord() found at an offset. */
export type ReadResult =
  | { kind: 'ok'; record: ArchiveRecord; size: number }
  /** Not enough bytes for the frame or body: a record cut short (or the end). */
  | { kind: 'short' }
  | { kind: 'corrupt' };

/**
 * The record at `off` in `b`. `check` verifies the CRC (always when serving a query; the open
 * scan checks it only in the last segment, the one a crash can tear). `decodePayload` false
 * leaves the payload out (the open scan needs only the index fields). Bytes from `end` on are not looked at.
 */
export function readRecord(b: Buffer, off: number, check: boolean, decodePayload: boolean, end = b.length): ReadResult {
  if (end - off < FRAME) return { kind: 'short' };
  const body = b.readUInt32LE(off);
  if (body < FIXED || body > BODY_MAX) return { kind: 'corrupt' };
  if (end - off - FRAME < body) return { kind: 'short' };
  const start = off + FRAME;
  if (check && crc32(b.subarray(start, start + body)) !== b.readUInt32LE(off + 4)) return { kind: 'corrupt' };
  const kind = b[start]!;
  const wlen = b.readUInt16LE(start + 2);
  const when = b.readDoubleLE(start + 4);
  const seq = b.readDoubleLE(start + 12);
  if (kind > 1 || FIXED + wlen > body || !Number.isFinite(when) || !Number.isSafeInteger(seq) || seq < 0) return { kind: 'corrupt' };
  const wEnd = start + FIXED + wlen;
  const withJid = b.toString('utf8', start + FIXED, wEnd);
  let payload: ArchivePayload = '';
  if (decodePayload) {
    payload = kind === 0 ? b.toString('utf8', wEnd, start + body) : new Uint8Array(b.subarray(wEnd, start + body));
  }
  return { kind: 'ok', record: { seq, when, with: withJid, payload }, size: FRAME + body };
}

/** Bytes the record of an item takes (what quotas count); RangeError for a `with` or payload past its limit. */
export function recordSize(withJid: string, payload: ArchivePayload): number {
  const w = Buffer.byteLength(withJid, 'utf8');
  if (w > ARCHIVE_WITH_MAX) throw new RangeError(`archive 'with' longer than ${ARCHIVE_WITH_MAX} bytes`);
  const p = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
  if (p > ARCHIVE_PAYLOAD_MAX) throw new RangeError(`archive payload larger than ${ARCHIVE_PAYLOAD_MAX} bytes`);
  return FRAME + FIXED + w + p;
}

/** Bytes of a record needed to read its time. */
export const HEADER_PEEK = FRAME + FIXED;

/** The `when` of the record starting at b[0], from its header only; undefined if it looks wrong. */
export function peekTime(b: Buffer): number | undefined {
  if (b.length < HEADER_PEEK) return undefined;
  const body = b.readUInt32LE(0);
  const when = b.readDoubleLE(FRAME + 4);
  return body >= FIXED && body <= BODY_MAX && Number.isFinite(when) ? when : undefined;
}
