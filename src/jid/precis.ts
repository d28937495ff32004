// PRECIS string preparation for the three parts of a JID.
// References: RFC 7622 (XMPP address format), RFC 8264 (PRECIS framework),
// RFC 8265 (UsernameCaseMapped and OpaqueString profiles), RFC 5892 (IDNA2008 code points).
//
// This is a pragmatic subset of PRECIS built on the JavaScript engine's own Unicode tables
// (normalize(), toLowerCase() and \p{...} classes): the derived-property rules of RFC 8264 §8
// are approximated by Unicode general categories. Not implemented: the Bidi rule (RFC 5893)
// and the contextual rules for ZWJ/ZWNJ and friends (those characters are simply rejected in
// localparts).

import { domainToASCII } from 'node:url';
import { isIPv6 } from 'node:net';

/** Thrown when a string cannot be prepared as a JID part. */
export class JidError extends Error {
  override name = 'JidError';
}

const MAX_BYTES = 1023;

/**
 * A bounded cache with approximate least-recently-used eviction: two generations of at most
 * `limit` entries; a hit in the old generation moves the entry to the new one, and when the
 * new one fills up the old one is dropped whole. Every operation is O(1) — deleting the
 * oldest key of one Map one at a time makes V8 scan the holes it leaves at the front.
 */
export class LruCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  constructor(private readonly limit: number) {}

  get(key: string): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) {
      this.old.delete(key);
      this.set(key, o);
    }
    return o;
  }

  set(key: string, value: V): void {
    if (this.young.size >= this.limit) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Number of entries held (at most twice the limit). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}

function checkLength(s: string, what: string): void {
  if (s.length === 0) throw new JidError(`${what} is empty`);
  if (Buffer.byteLength(s, 'utf8') > MAX_BYTES) throw new JidError(`${what} is longer than ${MAX_BYTES} bytes`);
}

// Fullwidth and halfwidth code points (the <wide>/<narrow> decompositions): U+3000 and the
// Halfwidth and Fullwidth Forms block. RFC 8265 §3.3.1 maps them to their decomposition.
const WIDTH_CHARS = /[\u3000\uFF01-\uFFEE]/g;
function widthMap(s: string): string {
  return s.replace(WIDTH_CHARS, (c) => c.normalize('NFKC'));
}

// RFC 8265 §4.2.1: non-ASCII space characters map to U+0020 in OpaqueString.
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;

// RFC 7622 §3.3.1: characters an XMPP localpart may not contain even though
// IdentifierClass allows them.
const LOCAL_FORBIDDEN = new Set(['"', '&', "'", '/', ':', '<', '>', '@']);
const LOCAL_FORBIDDEN_RE = /["&'/:<>@]/;
const PRINTABLE_ASCII = /^[\x21-\x7E]*$/;

// IdentifierClass (RFC 8264 §4.2) approximated: letters (not titlecase), marks, decimal
// digits, and printable ASCII. Everything else — spaces, controls, symbols and punctuation
// outside ASCII, unassigned and private-use code points, lone surrogates — is disallowed.
const ID_ALLOWED = /^[\x21-\x7E\p{Ll}\p{Lu}\p{Lo}\p{Lm}\p{Mn}\p{Mc}\p{Nd}]$/u;

// FreeformClass (RFC 8264 §4.3) approximated: everything but controls, lone surrogates and
// unassigned code points. Default-ignorable characters stay allowed because clients put
// emoji (with U+FE0F and U+200D) in resources.
const FREEFORM_DISALLOWED = /[\p{Cc}\p{Cs}\p{Cn}]/u;

/** Prepare and enforce a localpart (UsernameCaseMapped profile, RFC 8265 §3.3, RFC 7622 §3.3). */
export function precisLocal(input: string): string {
  if (PRINTABLE_ASCII.test(input)) {
    // Fast path: for printable ASCII every PRECIS step but case mapping is the identity.
    const bad = LOCAL_FORBIDDEN_RE.exec(input);
    if (bad) throw new JidError(`localpart contains forbidden character '${bad[0]}'`);
    checkLength(input, 'localpart');
    return input.toLowerCase();
  }
  const s = widthMap(input).toLowerCase().normalize('NFC');
  checkLength(s, 'localpart');
  for (const c of s) {
    if (LOCAL_FORBIDDEN.has(c)) throw new JidError(`localpart contains forbidden character '${c}'`);
    if (!ID_ALLOWED.test(c)) throw new JidError(`localpart contains disallowed character U+${hex(c)}`);
    // HasCompat (RFC 8264 §9.17): compatibility characters such as ligatures are disallowed.
    if (c.codePointAt(0)! > 0x7f && c.normalize('NFKC') !== c) {
      throw new JidError(`localpart contains compatibility character U+${hex(c)}`);
    }
  }
  return s;
}

/** Prepare and enforce a resourcepart (OpaqueString profile, RFC 8265 §4.2, RFC 7622 §3.4). */
export function precisResource(input: string): string {
  if (/^[\x20-\x7E]+$/.test(input)) {
    checkLength(input, 'resourcepart');
    return input; // ASCII without controls is already prepared
  }
  const s = input.replace(NON_ASCII_SPACE, ' ').normalize('NFC');
  checkLength(s, 'resourcepart');
  const bad = FREEFORM_DISALLOWED.exec(s);
  if (bad) throw new JidError(`resourcepart contains disallowed character U+${hex(bad[0])}`);
  return s;
}

// Label separators RFC 7622 §3.2 (via UTS #46) maps to U+002E.
const DOTS = /[\u3002\uFF0E\uFF61]/g;
const ASCII_LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;
const UNICODE_LABEL_CHAR = /^[a-z0-9_-]$|^[\p{L}\p{M}\p{Nd}]$/u;

/** Prepare and enforce a domainpart (RFC 7622 §3.2): IP literal, IPv4 address or domain name. */
export function precisDomain(input: string): string {
  if (input.startsWith('[')) {
    // IPv6 literal (RFC 3986 IP-literal); zone identifiers are not allowed in JIDs.
    if (!input.endsWith(']') || !isIPv6(input.slice(1, -1)) || input.includes('%')) {
      throw new JidError('domainpart is not a valid IPv6 literal');
    }
    return input.toLowerCase();
  }
  let s = input.replace(DOTS, '.');
  if (s.endsWith('.')) s = s.slice(0, -1);
  // UTS #46 mapping (as IDNA2008 expects of input) includes width mapping and case folding.
  s = PRINTABLE_ASCII.test(s) ? s.toLowerCase() : s.normalize('NFKC').toLowerCase().normalize('NFC');
  checkLength(s, 'domainpart');
  const labels = s.split('.');
  let ascii = true;
  for (const label of labels) {
    if (label.length === 0) throw new JidError('domainpart has an empty label');
    if (label.length <= 63 && ASCII_LABEL.test(label)) continue; // the common case
    for (const c of label) {
      if (!UNICODE_LABEL_CHAR.test(c)) {
        throw new JidError(`domainpart contains disallowed character ${c >= '!' && c <= '~' ? `'${c}'` : `U+${hex(c)}`}`);
      }
    }
    if (/^[\x00-\x7f]*$/.test(label)) {
      if (!ASCII_LABEL.test(label)) throw new JidError(`domainpart label '${label}' starts or ends with '-'`);
      if (label.length > 63) throw new JidError('domainpart label is longer than 63 octets');
    } else {
      ascii = false;
    }
  }
  // Internationalized names: let the URL host parser (UTS #46 / punycode) decide whether
  // the U-labels are valid and short enough; it returns '' when they are not.
  if (!ascii) {
    const a = domainToASCII(s);
    if (a === '' || a.split('.').some((l) => l.length > 63)) {
      throw new JidError('domainpart is not a valid internationalized domain name');
    }
  }
  return s;
}

function hex(c: string): string {
  return c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
}
