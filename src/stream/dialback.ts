// Server dialback keys and elements. References: XEP-0220, XEP-0185 (key generation).
// On I2P outbound streams leave from the proxy's shared destination, so the peer cannot tie a
// connection to our domain: dialback is how servers prove who they are (docs/architecture.md).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';

export const NS_DB = 'jabber:server:dialback';
export const NS_DB_FEATURE = 'urn:xmpp:features:dialback';

/** Dialback keys from a secret (dialback_secret, or random per start). */
export class DialbackKeys {
  private readonly secretHash: Buffer;

  constructor(secret?: string) {
    this.secretHash = createHash('sha256').update(secret ?? randomBytes(32)).digest();
  }

  /** XEP-0185: HMAC-SHA256(SHA256(secret), receiving + ' ' + originating + ' ' + stream id), hex. */
  key(receiving: string, originating: string, streamId: string): string {
    return createHmac('sha256', this.secretHash).update(`${receiving} ${originating} ${streamId}`).digest('hex');
  }

  /** Constant-time check of a key a peer presented. */
  check(key: string, receiving: string, originating: string, streamId: string): boolean {
    const want = Buffer.from(this.key(receiving, originating, streamId));
    const got = Buffer.from(key.trim());
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/** `<db:result/>` or `<db:verify/>` with a type (the answers). */
export function dbAnswer(name: 'result' | 'verify', from: string, to: string, type: 'valid' | 'invalid' | 'error', id?: string, condition?: string): Element {
  const el = x(`db:${name}`, { 'xmlns:db': NS_DB, from, to, type, ...(id ? { id } : {}) });
  if (type === 'error' && condition) el.append(x('error', { type: 'cancel' }, x(condition, { xmlns: NS.STANZA_ERRORS })));
  return el;
}

/** `<db:result/>` or `<db:verify/>` carrying a key (the requests). */
export function dbRequest(name: 'result' | 'verify', from: string, to: string, key: string, id?: string): Element {
  return x(`db:${name}`, { 'xmlns:db': NS_DB, from, to, ...(id ? { id } : {}) }, key);
}

/** True when the element is in the dialback namespace with this local name. */
export function isDb(el: Element, name: 'result' | 'verify'): boolean {
  return el.local === name && el.xmlns === NS_DB;
}
