// Archive ids: a record's per-owner sequence number, encrypted with the owner's own random key
// (one AES block), as 22 base64url characters. Decrypting gives the sequence number back, so an
// id needs no lookup table; the sequence number is per owner and hidden, so ids reveal neither
// how many items this owner has nor anything about other owners (each owner's key is new, and a
// deleted archive's ids never come back). Forged ids fail the 10 zero bytes of the block.
import { createCipheriv, createDecipheriv, randomBytes, type Cipher, type Decipher } from 'node:crypto';

/** Bytes of an owner's id key. */
export const ID_KEY_BYTES = 16;
const SEQ_BYTES = 6;

/** A fresh random id key. */
export function newIdKey(): Buffer {
  return randomBytes(ID_KEY_BYTES);
}

/** Encodes sequence numbers as ids and back, for one owner's key. */
export class IdCodec {
  // ECB on single blocks keeps no state between update() calls, so one cipher serves every id.
  private readonly enc: Cipher;
  private readonly dec: Decipher;

  constructor(key: Buffer) {
    if (key.length !== ID_KEY_BYTES) throw new Error('bad archive id key');
    this.enc = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
    this.dec = createDecipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  }

  /** The id of sequence number `seq`. */
  encode(seq: number): string {
    const block = Buffer.alloc(16);
    block.writeUIntBE(seq, 0, SEQ_BYTES);
    return this.enc.update(block).toString('base64url');
  }

  /** The sequence number in `id`, or undefined when it is not one of this key's ids. */
  decode(id: string): number | undefined {
    if (id.length !== 22 || !/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
    const raw = Buffer.from(id, 'base64url');
    // Base64 has several spellings of the last character's spare bits; accept one only.
    if (raw.length !== 16 || raw.toString('base64url') !== id) return undefined;
    const block = this.dec.update(raw);
    for (let i = SEQ_BYTES; i < 16; i++) if (block[i] !== 0) return undefined;
    return block.readUIntBE(0, SEQ_BYTES);
  }
}
