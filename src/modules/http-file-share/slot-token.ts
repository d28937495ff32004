// Upload slots as signed tokens: the slot's facts (id, name, size, type, owner, deadline) travel
// in the PUT's `Authorization: Bearer …` header, signed with HMAC-SHA-256 under a key the
// service draws at start, so pending slots cost no memory and no storage, and a token cannot be
// altered or reused for another id. Checked in constant time.
// References: XEP-0363 §4 (the slot's put headers), RFC 6750 (Bearer), RFC 2104 (HMAC).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a slot allows: one PUT of exactly `size` bytes to `id` before `deadline`. */
export interface Slot {
  readonly id: string;
  readonly filename: string;
  readonly size: number;
  readonly type: string;
  /** Bare JID of the requester. */
  readonly owner: string;
  /** Milliseconds since the epoch after which the PUT is refused. */
  readonly deadline: number;
}

/** Signs slots and checks the tokens of PUTs. */
export class SlotSigner {
  private readonly key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.key = key;
  }

  /** The token for `slot` (the value after `Bearer `). */
  sign(slot: Slot): string {
    const body = Buffer.from(JSON.stringify([slot.id, slot.filename, slot.size, slot.type, slot.owner, slot.deadline]), 'utf8').toString('base64url');
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  /** The slot a token was signed for, or undefined for a forged, altered or malformed one. */
  verify(token: string): Slot | undefined {
    const dot = token.indexOf('.');
    if (dot < 0 || token.length > 8192) return undefined;
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const want = this.mac(body);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
    try {
      const [id, filename, size, type, owner, deadline] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown[];
      if (typeof id !== 'string' || typeof filename !== 'string' || typeof size !== 'number' || typeof type !== 'string' || typeof owner !== 'string' || typeof deadline !== 'number') return undefined;
      return { id, filename, size, type, owner, deadline };
    } catch {
      return undefined;
    }
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest();
  }
}
