// The XEP-0114 handshake: the component proves it knows the shared secret by sending
// hex(SHA-1(stream id + secret)). Checked in constant time; hex case does not matter (Prosody
// compares lower-cased too).
// References: XEP-0114 §3.
import { createHash, timingSafeEqual } from 'node:crypto';

/** The handshake value a component must send for `streamId` and `secret`: lower-case hex SHA-1. */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash('sha1').update(streamId + secret, 'utf8').digest('hex');
}

/** Whether `given` (the text of <handshake/>) is the digest for this stream and secret. */
export function handshakeMatches(given: string, streamId: string, secret: string): boolean {
  const want = Buffer.from(handshakeDigest(streamId, secret));
  const got = Buffer.from(given.trim().toLowerCase());
  return got.length === want.length && timingSafeEqual(got, want);
}
