// Incremental, strict decoding of stream input for the parser.
// References: RFC 3629 (UTF-8), RFC 6120 §11.6 (UTF-8 only), XML 1.0 §4.3.3 and Appendix F (BOM).

import { isUtf8 } from 'node:buffer';

type InputCondition = 'not-well-formed' | 'unsupported-encoding';

interface WellFormed {
  isWellFormed(): boolean;
}

/**
 * Turns Buffers (or strings) into well-formed strings, carrying a multi-byte sequence split
 * across writes. Node's isUtf8 is strict (no overlong forms, no surrogates, nothing above
 * U+10FFFF) and much faster than a fatal TextDecoder; toString() then cannot substitute.
 */
export class StreamInput {
  /** Whether the last decoded string had exactly one UTF-16 unit per byte (pure ASCII). */
  ascii = true;
  /** Why the last call returned null. */
  condition: InputCondition = 'not-well-formed';
  text = '';

  private tail: Buffer | null = null;
  private hi = '';
  private head = 0;
  private started = false;

  /** Decode bytes; null on invalid or non-UTF-8 input. */
  bytes(chunk: Buffer): string | null {
    if (this.hi !== '') return this.fail('not-well-formed', 'unpaired surrogate in string input');
    // COMPAT: UTF-16/32 senders. Their first bytes are a FE/FF BOM or contain NUL, never valid here.
    for (let k = 0; this.head < 2 && k < chunk.length; k++, this.head++) {
      const b = chunk[k]!;
      if (b === 0 || (this.head === 0 && (b === 0xfe || b === 0xff))) {
        return this.fail('unsupported-encoding', 'input is not UTF-8 (UTF-16 or UTF-32?)');
      }
    }
    let buf = chunk;
    if (this.tail !== null) {
      buf = Buffer.concat([this.tail, chunk]);
      this.tail = null;
    }
    const len = buf.length;
    let cut = len;
    if (len > 0 && buf[len - 1]! >= 0x80) {
      // Keep an incomplete trailing sequence for the next write.
      let k = len - 1;
      const stop = Math.max(0, len - 4);
      while (k > stop && (buf[k]! & 0xc0) === 0x80) k--;
      const b = buf[k]!;
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      if (b >= 0xc0 && len - k < need) cut = k;
    }
    if (cut < len) this.tail = Buffer.from(buf.subarray(cut)); // a copy: the caller may reuse its buffer
    if (cut === 0) return '';
    const body = cut === len ? buf : buf.subarray(0, cut);
    if (!isUtf8(body)) return this.fail('not-well-formed', 'invalid UTF-8');
    let s = body.toString('utf8');
    let units = cut;
    if (!this.started) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) {
        s = s.slice(1);
        units -= 3;
      }
    }
    this.ascii = s.length === units;
    return s;
  }

  /** Accept already-decoded text; a surrogate pair may be split across writes. */
  string(chunk: string): string | null {
    if (this.tail !== null) return this.fail('not-well-formed', 'incomplete UTF-8 sequence');
    let s = this.hi === '' ? chunk : this.hi + chunk;
    this.hi = '';
    const last = s.charCodeAt(s.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.hi = s.slice(-1);
      s = s.slice(0, -1);
    }
    if (!(s as unknown as WellFormed).isWellFormed()) return this.fail('not-well-formed', 'unpaired surrogate');
    if (s.length === 0) return s;
    if (!this.started) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    this.ascii = Buffer.byteLength(s) === s.length;
    return s;
  }

  private fail(condition: InputCondition, text: string): null {
    this.condition = condition;
    this.text = text;
    return null;
  }
}
