// Random identifiers (stream ids, generated resources, SCRAM nonces) from a pooled CSPRNG buffer.
//
// Why a pool: a synchronous crypto.randomBytes() costs ~7 µs here however few bytes it returns
// (200,000 calls for 12 bytes on one pinned CPU), and a login takes five of them (three stream
// headers, the stream's log id, the bound resource). One randomFillSync() of 4 KiB serves ~300
// identifiers at ~0.2 µs each. The bytes are the same CSPRNG output, each handed out once; Node
// pools randomUUID() the same way. Keys, salts and secrets keep calling randomBytes() directly.
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** `bytes` random bytes (at most 256) as base64url: unpredictable, never reused. */
export function randomId(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError('randomId takes 1 to 256 bytes');
  if (offset + bytes > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return id;
}
