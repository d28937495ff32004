// File names, ids and media types of shared files: what a slot request may ask for, and how a
// download is labelled so a browser never runs it (attachment unless a plain image type, never
// sniffed, sandboxed by CSP).
// References: XEP-0363 §4, RFC 6266 (Content-Disposition), RFC 8187 (filename*), RFC 6838 (media types).
import { randomBytes } from 'node:crypto';

/** Longest file name a slot takes, in UTF-8 bytes (a file system's name limit). */
export const MAX_FILENAME_BYTES = 255;

/** A new file id: 128 random bits, URL-safe; the only name files get on disk. */
export function newId(): string {
  return randomBytes(16).toString('base64url');
}

/** Whether `s` has the shape of an id newId() makes (the only names looked up on disk). */
export function isId(s: string): boolean {
  return /^[A-Za-z0-9_-]{22}$/.test(s);
}

/** Why a requested file name is refused, or undefined when it is fine. */
export function filenameProblem(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return 'the file name is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_FILENAME_BYTES) return `the file name is longer than ${MAX_FILENAME_BYTES} bytes`;
  // Separators and controls: the name is one URL path segment and a Content-Disposition value.
  if (/[/\\\0-\x1f\x7f]/.test(name)) return 'the file name has a path separator or a control character';
  return undefined;
}

/** The media type a slot request gives, normalised (lower case, no parameters), or undefined when malformed. */
export function normaliseType(type: string | undefined): string | undefined {
  if (type === undefined || type === '') return 'application/octet-stream';
  const bare = (type.split(';')[0] as string).trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/.test(bare) ? bare : undefined;
}

/** Whether `type` is in `allowed` ("image/png", or "image/*" for a whole top-level type); no list allows all. */
export function typeAllowed(type: string, allowed: readonly string[] | undefined): boolean {
  if (allowed === undefined) return true;
  return allowed.some((a) => {
    const want = a.toLowerCase();
    return want === type || (want.endsWith('/*') && type.startsWith(want.slice(0, -1)));
  });
}

/** Image types a browser only ever renders as pictures (no SVG: it runs scripts). */
const INLINE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']);

/** Types a browser may run as a document or script: served as bytes. */
function active(type: string): boolean {
  return /html|xml|svg|javascript|ecmascript|^text\/(?!plain$)|^application\/(pdf|wasm|x-shockwave-flash)$/.test(type);
}

/** Headers that label a download: type, disposition, no sniffing, no scripts. */
export function downloadHeaders(type: string, filename: string, size: number): Record<string, string> {
  const inline = INLINE.has(type);
  // ASCII fallback without quotes or backslashes, and the exact name in RFC 8187 form.
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return {
    'Content-Type': active(type) ? 'application/octet-stream' : type,
    'Content-Length': String(size),
    'Content-Disposition': `${inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`,
    'Content-Security-Policy': "default-src 'none'; img-src 'self'; sandbox",
    'X-Content-Type-Options': 'nosniff',
  };
}
