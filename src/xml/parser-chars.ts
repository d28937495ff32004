// Lexical helpers for the stream parser: XML names, references, the XML declaration.
// References: XML 1.0 (Fifth Edition) §2.2 Char, §2.3 Name, §2.8 XMLDecl, §4.1 references;
// Namespaces in XML 1.0 §3 (NCName, QName); RFC 6120 §11.

/**
 * Characters outside the XML 1.0 Char production. The input layer has already rejected
 * unpaired surrogates, so only C0 controls and U+FFFE/U+FFFF remain to be caught.
 */
export const BAD_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

const START = 1;
const CHAR = 2;
// ASCII name-character classes; ':' is handled separately (QName rules).
const ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95) ASCII[c] = START | CHAR;
  else if ((c >= 48 && c <= 57) || c === 45 || c === 46) ASCII[c] = CHAR;
}

/** NameStartChar for a UTF-16 code unit ≥ 128 (a high surrogate stands for U+10000–U+EFFFF). */
function isStartU(c: number): boolean {
  return (
    (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) || (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) || (c >= 0x37f && c <= 0x1fff) || c === 0x200c || c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) || (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) || (c >= 0xfdf0 && c <= 0xfffd) || (c >= 0xd800 && c <= 0xdb7f)
  );
}

/** NameChar for a UTF-16 code unit ≥ 128 (low surrogates only ever follow an accepted high one). */
function isCharU(c: number): boolean {
  return (
    isStartU(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040 ||
    (c >= 0xdc00 && c <= 0xdfff)
  );
}

function isStart(c: number): boolean {
  return c < 128 ? (ASCII[c]! & START) !== 0 : isStartU(c);
}

function isNameChar(c: number): boolean {
  return c < 128 ? (ASCII[c]! & CHAR) !== 0 : isCharU(c);
}

/** A name scan ran into the end of the available data. */
export const NAME_MORE = -1;
/** A name scan found an invalid name. */
export const NAME_BAD = -2;

/** Side result of scanQName: index of the name's colon, or -1. */
export const scan = { colon: -1 };

/**
 * Scan a QName (NCName or NCName:NCName) starting at `p`; return the index just past it,
 * NAME_MORE if it runs to `n`, or NAME_BAD.
 */
export function scanQName(s: string, p: number, n: number): number {
  if (p >= n) return NAME_MORE;
  let c = s.charCodeAt(p);
  if (c < 128 ? (ASCII[c]! & START) === 0 : !isStartU(c)) return NAME_BAD;
  let colon = -1;
  let k = p + 1;
  for (; k < n; k++) {
    c = s.charCodeAt(k);
    if (c < 128) {
      if ((ASCII[c]! & CHAR) !== 0) continue;
      if (c !== 58) break;
      if (colon >= 0) return NAME_BAD;
      colon = k;
      if (++k >= n) return NAME_MORE;
      c = s.charCodeAt(k);
      if (c < 128 ? (ASCII[c]! & START) === 0 : !isStartU(c)) return NAME_BAD;
    } else if (!isCharU(c)) break;
  }
  if (k >= n) return NAME_MORE;
  scan.colon = colon;
  return k;
}

/** The Char production of XML 1.0, for code points from character references. */
export function isXmlChar(v: number): boolean {
  return (
    v === 9 || v === 10 || v === 13 || (v >= 0x20 && v <= 0xd7ff) || (v >= 0xe000 && v <= 0xfffd) ||
    (v >= 0x10000 && v <= 0x10ffff)
  );
}

/**
 * How many characters after `&` a reference may take (including its `;`). Longer ones are
 * refused whatever their chunking, so that an unterminated `&` never needs more look-ahead.
 */
export const MAX_REF = 32;
/** parseRef: not well-formed (bare `&`, bad character reference). */
export const REF_NWF = -1;
/** parseRef: a reference to an entity other than the five predefined ones. */
export const REF_RESTRICTED = -2;
/** Side results of parseRef: the decoded text, or the reason it failed. */
export const ref = { value: '', error: '' };

/**
 * Decode the reference starting with `&` at `k`, which must end before `end`. Returns the index
 * just past its `;` (with the text in ref.value), REF_NWF or REF_RESTRICTED (reason in ref.error).
 */
export function parseRef(s: string, k: number, end: number): number {
  const lim = Math.min(end, k + 1 + MAX_REF);
  let c = k + 1 < lim ? s.charCodeAt(k + 1) : -1;
  if (c === 35) return charRef(s, k, lim);
  const len = c === 97 || c === 108 || c === 103 || c === 113 ? predefined(s, k + 1) : 0;
  if (len !== 0 && k + len <= end) return k + len;
  if (c < 0 || (!isStart(c) && c !== 58)) {
    ref.error = "'&' must start a reference (escape it as &amp;)";
    return REF_NWF;
  }
  let j = k + 2;
  for (; j < lim; j++) {
    c = s.charCodeAt(j);
    if (!isNameChar(c) && c !== 58) break;
  }
  if (j >= lim) {
    if (lim === k + 1 + MAX_REF) {
      ref.error = 'entity reference too long (only &lt; &gt; &amp; &quot; &apos; are allowed)';
      return REF_RESTRICTED;
    }
    ref.error = "'&' must start a reference (escape it as &amp;)";
    return REF_NWF;
  }
  if (c !== 59) {
    ref.error = "'&' must start a reference (escape it as &amp;)";
    return REF_NWF;
  }
  ref.error = `entity reference &${s.slice(k + 1, j)}; (only &lt; &gt; &amp; &quot; &apos; are allowed)`;
  return REF_RESTRICTED;
}

const PREDEFINED: readonly (readonly [string, string])[] = [
  ['amp;', '&'], ['lt;', '<'], ['gt;', '>'], ['quot;', '"'], ['apos;', "'"],
];

/** Length of `&name;` when it is one of the five predefined entities (its text in ref.value), else 0. */
function predefined(s: string, p: number): number {
  for (const [name, text] of PREDEFINED) {
    if (s.startsWith(name, p)) {
      ref.value = text;
      return name.length + 1;
    }
  }
  return 0;
}

function charRef(s: string, k: number, lim: number): number {
  let j = k + 2;
  let hex = false;
  if (j < lim && s.charCodeAt(j) === 120) {
    hex = true;
    j++;
  }
  const first = j;
  let v = 0;
  for (; j < lim; j++) {
    const c = s.charCodeAt(j);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (hex && c >= 97 && c <= 102) d = c - 87;
    else if (hex && c >= 65 && c <= 70) d = c - 55;
    else break;
    v = v * (hex ? 16 : 10) + d;
    if (v > 0x10ffff) v = 0x110000; // saturate: still illegal, never overflows
  }
  if (j === first || j >= lim || s.charCodeAt(j) !== 59) {
    ref.error = 'malformed character reference';
    return REF_NWF;
  }
  if (!isXmlChar(v)) {
    ref.error = `character reference ${s.slice(k, j + 1)} is not an XML character`;
    return REF_NWF;
  }
  ref.value = String.fromCodePoint(v);
  return j + 1;
}

const WS = '[ \\t\\r\\n]';
const XML_DECL = new RegExp(
  `^<\\?xml${WS}+version${WS}*=${WS}*(["'])1\\.[0-9]+\\1` +
    `(?:${WS}+encoding${WS}*=${WS}*(["'])([A-Za-z][A-Za-z0-9._-]*)\\2)?` +
    `(?:${WS}+standalone${WS}*=${WS}*(["'])(?:yes|no)\\4)?${WS}*\\?>$`,
);

/** Check a complete `<?xml …?>` declaration; return an error, or null when it is acceptable. */
export function checkXmlDecl(decl: string): { condition: 'not-well-formed' | 'unsupported-encoding'; text: string } | null {
  const m = XML_DECL.exec(decl);
  if (m === null) return { condition: 'not-well-formed', text: 'malformed XML declaration' };
  const enc = m[3];
  if (enc !== undefined && enc.toLowerCase() !== 'utf-8') {
    return { condition: 'unsupported-encoding', text: `encoding '${enc}' is not supported; use UTF-8` };
  }
  return null;
}
