// File names of the file storage backend: Prosody-style percent-encoding for names that fit,
// a hash for names that do not. Any valid JID part may be a user or host name (up to 1023 bytes,
// a localpart of 200 × "é" encodes to 1200 bytes), but a file name may have at most NAME_MAX
// (255) bytes, temp-file suffix included. A name too long for that is stored under
// `_h-<sha256 hex>` and its file holds the name itself next to the value, so listings still
// return it. Short names keep their readable encoding, so existing data stays where it is.
import { createHash } from 'node:crypto';

/** Longest file name most filesystems take (NAME_MAX), in bytes. */
const NAME_MAX = 255;
/** Prefix of hashed names; encodeName() never yields '_' (it becomes %5f), so the two never meet. */
const HASH_PREFIX = '_h-';
/** Field of a hashed file's JSON that holds the real name (the value sits under `value`). */
const NAME_FIELD = 'clove_long_name';

/** Percent-encode every byte that is not [a-z0-9] (so `.` → `%2e`), as Prosody names files. */
export function encodeName(s: string): string {
  return s.replace(/[^a-z0-9]/gu, (c) => {
    let out = '';
    for (const b of Buffer.from(c, 'utf8')) out += `%${b.toString(16).padStart(2, '0')}`;
    return out;
  });
}

/** Inverse of encodeName(); also reads Prosody's names, which keep A–Z unencoded. */
export function decodeName(s: string): string {
  try {
    return s.includes('%') ? decodeURIComponent(s) : s;
  } catch {
    return s; // not a name we wrote; show it as it is
  }
}

/** How one name is stored: its file (or directory) name, and whether it is a hash. */
export interface StoredName {
  /** File or directory name, without the extension. */
  base: string;
  /** The real name, when `base` is a hash and the file must carry it. */
  long?: string;
}

/**
 * The stored name of `name`, where the final name gets `reserved` more bytes (extension and
 * temp-file suffix). Names whose encoding fits are stored as encoded; others as a hash.
 */
export function storedName(name: string, reserved: number): StoredName {
  const enc = encodeName(name);
  if (enc.length + reserved <= NAME_MAX) return { base: enc };
  return { base: HASH_PREFIX + createHash('sha256').update(name, 'utf8').digest('hex'), long: name };
}

/** True when a stored base name is a hash (the real name is inside the file). */
export function isHashedName(base: string): boolean {
  return base.startsWith(HASH_PREFIX);
}

/** The JSON text stored for `value` under a name (wrapped with the name when it is hashed). */
export function wrapValue(value: unknown, long: string | undefined): string {
  const s = JSON.stringify(long === undefined ? value : { [NAME_FIELD]: long, value });
  if (s === undefined || (long !== undefined && value === undefined)) throw new TypeError('value cannot be stored as JSON');
  return s;
}

/** The value of a stored JSON text; for a hashed name, undefined when the file is someone else's. */
export function unwrapValue<T>(parsed: unknown, long: string | undefined): T | undefined {
  if (long === undefined) return parsed as T;
  const w = parsed as Record<string, unknown> | null;
  if (typeof w !== 'object' || w === null || w[NAME_FIELD] !== long) return undefined;
  return w.value as T;
}

/** The real name held in a hashed file's parsed JSON, if any. */
export function longNameOf(parsed: unknown): string | undefined {
  const w = parsed as Record<string, unknown> | null;
  return typeof w === 'object' && w !== null && typeof w[NAME_FIELD] === 'string' ? w[NAME_FIELD] : undefined;
}
