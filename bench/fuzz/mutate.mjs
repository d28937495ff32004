// Mutations of a generated document, on bytes: flips, insertions of markup that is special to
// XML or forbidden by XMPP, deletions, duplications, truncation and splicing with another
// document. Most results are malformed; some stay well-formed in unexpected ways.

const SNIPPETS = [
  '<', '>', '&', "'", '"', '/', '=', ':', ';', '#', '!', '?', ']]>', '<![CDATA[', ']]', '</', '/>',
  '<!--c-->', '<!-- x -- y -->', '<?pi x?>', '<?xml version="1.0"?>', '<!DOCTYPE a>', '<!DOCTYPE a [<!ENTITY e "x">]>',
  '&e;', '&nbsp;', '&#0;', '&#x110000;', '&#xFFFE;', '&#xD800;', '&#;', '&#x;', '&amp', '&lt',
  'xmlns=""', "xmlns:p=''", "xmlns:xml='u'", "xmlns:xmlns='u'", "xmlns='http://www.w3.org/XML/1998/namespace'",
  ' p:a="1"', ' a="1" a="2"', "<p:x/>", '<xmlns:x/>', '</x>', '<a>', '<a/>', '<a b=c/>', '<1a/>', '<a:b:c/>',
  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", '</stream:stream>', '\u0000', '\u0001', '\u000B',
  '\u007F', '\u0085', '\uFFFE', '\uFFFF', '\r', '\n', '\t', ' ', '\uFEFF', 'é', '😀', '<\u00B7/>', '<a\u0301/>',
];

const BAD_BYTES = [
  [0x80], [0xc3], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0xfe, 0xff],
  [0xf0, 0x9f, 0x98], [0xef, 0xbf, 0xbe], [0xef, 0xbb, 0xbf], [0x00, 0x3c],
];

const ENC = new TextEncoder();
const SNIPPET_BYTES = SNIPPETS.map((s) => ENC.encode(s));

function randBytes(r) {
  if (r.chance(0.7)) return r.pick(SNIPPET_BYTES);
  if (r.chance(0.5)) return Uint8Array.from(r.pick(BAD_BYTES));
  const n = r.range(1, 4);
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = r.int(256);
  return b;
}

/** Apply 1–4 random mutations to `buf`; `other` is another document for splicing. */
export function mutate(r, buf, other) {
  let b = Buffer.from(buf);
  const n = r.chance(0.6) ? 1 : r.range(2, 4);
  for (let m = 0; m < n; m++) {
    const len = b.length;
    const at = r.int(len + 1);
    const op = r.int(9);
    if (op === 0 && len > 0) {
      b[Math.min(at, len - 1)] = r.int(256);
    } else if (op === 1 && len > 0) {
      b[Math.min(at, len - 1)] ^= 1 << r.int(8);
    } else if (op <= 3) {
      b = Buffer.concat([b.subarray(0, at), randBytes(r), b.subarray(at)]);
    } else if (op === 4) {
      b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(len, at + r.range(1, 16)))]);
    } else if (op === 5) {
      const end = Math.min(len, at + r.range(1, 64));
      b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
    } else if (op === 6) {
      b = b.subarray(0, at);
    } else if (op === 7 && other) {
      b = Buffer.concat([b.subarray(0, at), other.subarray(r.int(other.length + 1))]);
    } else {
      // Move a range elsewhere (tags out of order).
      const end = Math.min(len, at + r.range(1, 40));
      const piece = Buffer.from(b.subarray(at, end));
      const rest = Buffer.concat([b.subarray(0, at), b.subarray(end)]);
      const to = r.int(rest.length + 1);
      b = Buffer.concat([rest.subarray(0, to), piece, rest.subarray(to)]);
    }
  }
  return b;
}

/** Random cut points for feeding `len` bytes: sometimes every byte, usually a few cuts. */
export function splits(r, len) {
  if (len <= 400 && r.chance(0.05)) return Array.from({ length: len }, (_, k) => k + 1);
  const n = r.range(1, 12);
  const cuts = new Set();
  for (let k = 0; k < n; k++) cuts.add(r.int(len + 1));
  cuts.add(len);
  return [...cuts].sort((a, b) => a - b);
}
