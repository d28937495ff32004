// SCRAM parameters for users that do not exist, so a server-first-message does not tell a
// stranger whether an account exists: the salt is an HMAC of the name under a key kept in
// data_path (server-secret.ts), so it is the same on every attempt and across restarts, as a
// real account's salt is; the iteration count is the one new accounts get.
// References: RFC 5802 §5.1 (server-first-message), RFC 7677.

import { createHmac, randomBytes } from 'node:crypto';
import { SALT_BYTES, type ScramCredential, type ScramHash } from './credentials.js';

const KEY_BYTES: Record<ScramHash, number> = { sha1: 20, sha256: 32 };

/** A credential nothing can match, with a salt stable for (key, hash, username). */
export function fakeScram(key: Buffer, username: string, hash: ScramHash, iterations: number): ScramCredential {
  const salt = createHmac('sha256', key).update(`${hash}\0${username}`).digest().subarray(0, SALT_BYTES);
  return {
    salt: salt.toString('base64'),
    iterations,
    // Random keys: a proof can never match them (the exchange also knows the user is unknown).
    storedKey: randomBytes(KEY_BYTES[hash]).toString('base64'),
    serverKey: randomBytes(KEY_BYTES[hash]).toString('base64'),
  };
}
