// Lexing of tags, character data and `<!` markup for the stream parser. Each function works
// on a decoded string and returns an index, MORE (needs more data) or FAIL (reason in `out`).
// References: XML 1.0 (Fifth Edition) §2.4 (CharData), §2.7 (CDSect), §2.8 (DTD), §3.1 (tags),
// §3.3.3 (attribute-value normalization), §2.11 (end-of-line handling); RFC 6120 §11.1.

import { Element } from './element.js';
import { NAME_MORE, MAX_REF, REF_RESTRICTED, checkXmlDecl, parseRef, ref, scan, scanQName } from './parser-chars.js';

/** The construct continues past the end of the data. */
export const MORE = -1;
/** The data is in error; see out.condition and out.error. */
export const FAIL = -2;

/** Side results: the last start tag, or the last failure. */
export const out = {
  el: null as Element | null,
  self: false,
  /** The tag has a prefix or namespace declaration: namespace checks are needed. */
  ns: false,
  /** Quote state of tagEnd() (0, or the char code of the open quote). */
  quote: 0,
  /** Where tagEnd() found the '<' it failed on. */
  at: 0,
  condition: 'not-well-formed' as 'not-well-formed' | 'restricted-xml' | 'policy-violation' | 'unsupported-encoding',
  error: '',
};

function fail(condition: typeof out.condition, error: string): number {
  out.condition = condition;
  out.error = error;
  return FAIL;
}

const nwf = (error: string): number => fail('not-well-formed', error);

const isWs = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

/** Parse the start tag at s[i] === '<'; the element goes to out.el. Returns the index after '>'. */
export function startTag(s: string, i: number, n: number, maxAttrs: number): number {
  let p = scanQName(s, i + 1, n);
  if (p < 0) return p === NAME_MORE ? MORE : nwf('invalid element name');
  const name = s.slice(i + 1, p);
  let ns = scan.colon >= 0;
  const attrs: Record<string, string> = {};
  let count = 0;
  let self = false;
  for (;;) {
    let c = s.charCodeAt(p);
    const ws = isWs(c);
    while (isWs(c)) {
      if (++p >= n) return MORE;
      c = s.charCodeAt(p);
    }
    if (c === 62) {
      p++;
      break;
    }
    if (c === 47) {
      if (p + 1 >= n) return MORE;
      if (s.charCodeAt(p + 1) !== 62) return nwf(`expected '>' after '/' in <${name}>`);
      self = true;
      p += 2;
      break;
    }
    if (!ws) return nwf(`expected whitespace, '>' or '/>' in <${name}>`);
    const a = p;
    p = scanQName(s, a, n);
    if (p < 0) return p === NAME_MORE ? MORE : nwf(`invalid attribute name in <${name}>`);
    const key = s.slice(a, p);
    if (scan.colon >= 0 || (p - a === 5 && key === 'xmlns')) ns = true;
    c = s.charCodeAt(p);
    while (isWs(c)) {
      if (++p >= n) return MORE;
      c = s.charCodeAt(p);
    }
    if (c !== 61) return nwf(`attribute ${key} in <${name}> has no value`);
    do {
      if (++p >= n) return MORE;
      c = s.charCodeAt(p);
    } while (isWs(c));
    if (c !== 34 && c !== 39) return nwf(`value of attribute ${key} in <${name}> is not quoted`);
    const v = p + 1;
    let special = false;
    for (p = v; p < n; p++) {
      const d = s.charCodeAt(p);
      if (d === c) break;
      if (d < 61 && (d < 32 || d === 38 || d === 60)) special = true;
    }
    if (p >= n) return MORE;
    const value = special ? attrValue(s, v, p) : s.slice(v, p);
    if (value === null) return FAIL;
    if (++count > maxAttrs) return fail('policy-violation', `more than ${maxAttrs} attributes on <${name}>`);
    if (attrs[key] !== undefined && Object.hasOwn(attrs, key)) return nwf(`duplicate attribute ${key} on <${name}>`);
    if (key === '__proto__') Object.defineProperty(attrs, key, { value, enumerable: true, writable: true, configurable: true });
    else attrs[key] = value;
    if (++p >= n) return MORE;
  }
  out.el = new Element(name, attrs);
  out.self = self;
  out.ns = ns;
  return p;
}

/** Decode and normalize an attribute value holding references, '<' or whitespace other than space. */
function attrValue(s: string, a: number, b: number): string | null {
  let text = '';
  let last = a;
  for (let k = a; k < b; k++) {
    const c = s.charCodeAt(k);
    if (c === 38) {
      const r = parseRef(s, k, b);
      if (r < 0) {
        fail(r === REF_RESTRICTED ? 'restricted-xml' : 'not-well-formed', ref.error);
        return null;
      }
      text += s.slice(last, k) + ref.value;
      last = r;
      k = r - 1;
    } else if (c === 60) {
      nwf("'<' is not allowed in an attribute value");
      return null;
    } else if (c === 9 || c === 10 || c === 13) {
      text += s.slice(last, k) + ' ';
      if (c === 13 && k + 1 < b && s.charCodeAt(k + 1) === 10) k++;
      last = k + 1;
    }
  }
  return text + s.slice(last, b);
}

/** Decode character data holding references, CR or ']]>'. */
export function textSlow(s: string, a: number, b: number): string | null {
  let text = '';
  let last = a;
  for (let k = a; k < b; k++) {
    const c = s.charCodeAt(k);
    if (c === 38) {
      const r = parseRef(s, k, b);
      if (r < 0) {
        fail(r === REF_RESTRICTED ? 'restricted-xml' : 'not-well-formed', ref.error);
        return null;
      }
      text += s.slice(last, k) + ref.value;
      last = r;
      k = r - 1;
    } else if (c === 13) {
      text += s.slice(last, k) + '\n';
      if (k + 1 < b && s.charCodeAt(k + 1) === 10) k++;
      last = k + 1;
    } else if (c === 93 && s.startsWith(']]>', k)) {
      nwf("']]>' is not allowed in character data");
      return null;
    }
  }
  return text + s.slice(last, b);
}

/** Where character data (or CDATA content) running to the end of the data must stop for now. */
export function trailCut(s: string, i: number, n: number, refs: boolean): number {
  let cut = n;
  const c = s.charCodeAt(n - 1);
  if (c === 13) cut = n - 1; // CR LF may be split
  else if (c === 93) cut = n > i + 1 && s.charCodeAt(n - 2) === 93 ? n - 2 : n - 1; // ']]>' may be split
  if (refs) {
    for (let k = n - 1, stop = Math.max(i, n - MAX_REF); k >= stop; k--) {
      const d = s.charCodeAt(k);
      if (d === 59) break;
      if (d === 38) {
        if (k < cut) cut = k; // an unfinished reference
        break;
      }
    }
  }
  return cut;
}

/** Parse the close tag at s[i..i+1] === '</', which must match `open`. Returns the index after '>'. */
export function endTag(s: string, i: number, n: number, open: string | undefined): number {
  const p = i + 2;
  if (open !== undefined) {
    const e = p + open.length;
    if (e < n && s.startsWith(open, p)) {
      const c = s.charCodeAt(e);
      if (c === 62) return e + 1;
    }
  }
  const q = scanQName(s, p, n);
  if (q < 0) return q === NAME_MORE ? MORE : nwf("invalid name after '</'");
  const name = s.slice(p, q);
  if (open === undefined) return nwf(`close tag </${name}> without an open element`);
  if (name !== open) return nwf(`close tag </${name}> does not match <${open}>`);
  for (let k = q; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c === 62) return k + 1;
    if (!isWs(c)) return nwf(`unexpected character in </${name}>`);
  }
  return MORE;
}

/**
 * Look for the '>' ending a tag whose start was cut off, from `from`, in quote state out.quote.
 * Returns its index, MORE (out.quote updated) or FAIL ('<' inside a tag is never well-formed).
 */
export function tagEnd(s: string, from: number): number {
  let q = out.quote;
  for (let k = from, n = s.length; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c === 60) {
      out.at = k;
      return nwf("'<' inside a tag");
    }
    if (q !== 0) {
      if (c === q) q = 0;
    } else if (c === 62) {
      out.quote = 0;
      return k;
    } else if (c === 34 || c === 39) q = c;
  }
  out.quote = q;
  return MORE;
}

/** Handle `<!` at i: a CDATA section (returns the index of its content) or restricted markup. */
export function bang(s: string, i: number, n: number, inStanza: boolean): number {
  if (i + 3 >= n) return MORE;
  const c = s.charCodeAt(i + 2);
  if (c === 45) {
    return s.charCodeAt(i + 3) === 45 ? fail('restricted-xml', 'comments are not allowed') : nwf("invalid markup '<!-'");
  }
  if (c === 91) {
    if (n - i < 9) return '<![CDATA['.startsWith(s.slice(i)) ? MORE : nwf("invalid markup '<!['");
    if (!s.startsWith('<![CDATA[', i)) return nwf("invalid markup '<!['");
    if (!inStanza) return nwf('a CDATA section is only allowed inside a stanza');
    return i + 9;
  }
  if (c >= 65 && c <= 90) return fail('restricted-xml', 'DTDs and markup declarations (DOCTYPE, ENTITY…) are not allowed');
  return nwf("invalid markup '<!'");
}

const MAX_DECL = 1024;

/**
 * At the very start of a stream: the index after an XML declaration, 0 when there is none,
 * MORE when the data is too short to tell.
 */
export function xmlDecl(s: string, n: number): number {
  if (s.charCodeAt(0) !== 60 || (n >= 2 && s.charCodeAt(1) !== 63)) return 0;
  if (n < 6) return '<?xml'.startsWith(s) ? MORE : 0;
  if (!s.startsWith('<?xml') || !isWs(s.charCodeAt(5))) return 0;
  const e = s.indexOf('?>', 5);
  if (e < 0) return n <= MAX_DECL ? MORE : nwf('XML declaration too long');
  const err = checkXmlDecl(s.slice(0, e + 2));
  return err === null ? e + 2 : fail(err.condition, err.text);
}

/** `<?` at i, past the start of the stream: always an error once six characters are in. */
export function pi(s: string, i: number, n: number): number {
  if (n - i < 6) return MORE;
  const c = s.charCodeAt(i + 5);
  if (s.slice(i + 2, i + 5).toLowerCase() === 'xml' && (isWs(c) || c === 63)) {
    return nwf('an XML declaration is only allowed at the start of the stream');
  }
  return fail('restricted-xml', 'processing instructions are not allowed');
}
