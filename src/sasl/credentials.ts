// Stored SCRAM credentials, password preparation, and the credential source SASL reads.
// References: RFC 5802 §3 (SaltedPassword, StoredKey, ServerKey), RFC 7677 (SHA-256),
// RFC 4013 (SASLprep), RFC 8265 §4.2 (OpaqueString).

import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

import { saslPrep } from './saslprep.js';

export { PasswordError, saslPrep } from './saslprep.js';

const pbkdf2Async = promisify(pbkdf2);

export type ScramHash = 'sha1' | 'sha256';

/** What a server stores per user and hash: never the password itself. */
export interface ScramCredential {
  salt: string; // base64
  iterations: number;
  storedKey: string; // base64
  serverKey: string; // base64
}

/** The account database as SASL sees it. */
export interface CredentialSource {
  /** The user's stored SCRAM keys for this hash, or undefined when the user does not exist. */
  getScram(username: string, hash: ScramHash): Promise<ScramCredential | undefined>;
  /** Check a plaintext password (already through SASLprep or not: it is prepared again). */
  verifyPlain(username: string, password: string): Promise<boolean>;
  /** Iteration count of new credentials; SCRAM uses it for the fake challenge of unknown users. */
  readonly scramIterations?: number;
  /** Key for the stable fake salts of unknown users (fake-salt.ts); persistent across restarts. */
  readonly fakeSaltKey?: Buffer;
}

export const DEFAULT_ITERATIONS = 10000; // Prosody 0.12's default for internal_hashed
export const SALT_BYTES = 16;
const HASH_BYTES: Record<ScramHash, number> = { sha1: 20, sha256: 32 };

/** H(): the SCRAM hash function. */
export function scramHash(hash: ScramHash, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

/** HMAC(key, data) with the SCRAM hash. */
export function scramHmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(hash, key).update(data).digest();
}

/** Byte-wise XOR of two buffers of equal length. */
export function xorBuffers(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Constant-time equality; false when lengths differ. */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Hi(password, salt, i): PBKDF2 on the libuv thread pool, so the event loop stays free. */
export function saltPassword(password: string, salt: Buffer, iterations: number, hash: ScramHash): Promise<Buffer> {
  return pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, HASH_BYTES[hash], hash);
}

/** Derive the stored SCRAM credential for a password (SASLprep is applied here). */
export async function deriveScram(
  password: string,
  hash: ScramHash,
  iterations = DEFAULT_ITERATIONS,
  salt: Buffer = randomBytes(SALT_BYTES),
): Promise<ScramCredential> {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('SCRAM iterations must be a positive integer');
  const salted = await saltPassword(saslPrep(password), salt, iterations, hash);
  const clientKey = scramHmac(hash, salted, 'Client Key');
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: scramHash(hash, clientKey).toString('base64'),
    serverKey: scramHmac(hash, salted, 'Server Key').toString('base64'),
  };
}

/** Check a SASLprepped password against a stored credential, in constant time, off the event loop. */
export async function verifyScramPassword(cred: ScramCredential, password: string, hash: ScramHash): Promise<boolean> {
  const salted = await saltPassword(password, Buffer.from(cred.salt, 'base64'), cred.iterations, hash);
  const storedKey = scramHash(hash, scramHmac(hash, salted, 'Client Key'));
  return safeEqual(storedKey, Buffer.from(cred.storedKey, 'base64'));
}
