// Generator of well-formed, XMPP-like XML streams: a stream header, stanzas with random
// namespaces, prefixes, attributes, JIDs, text (references, CR/LF, non-ASCII, astral
// characters), CDATA and nesting, and usually the closing tag. Everything it makes is within
// RFC 6120 §11's restricted XML (no DTD, comments, PIs or other entities), so a strict parser
// must accept it and an XMPP parser must too, unless edge cases were asked for.

export const NS_STREAM = 'http://etherx.jabber.org/streams';

const KNOWN_NS = [
  'jabber:client', 'jabber:server', 'urn:xmpp:ping', 'jabber:iq:roster', 'jabber:iq:version',
  'jabber:iq:private', 'vcard-temp', 'urn:xmpp:time', 'http://jabber.org/protocol/disco#info',
  'http://jabber.org/protocol/disco#items', 'urn:ietf:params:xml:ns:xmpp-stanzas',
  'urn:xmpp:carbons:2', 'urn:xmpp:blocking', 'http://jabber.org/protocol/caps', 'jabber:x:data',
  'urn:xmpp:sm:3', 'urn:xmpp:csi:0', 'jabber:iq:register', 'urn:xmpp:delay',
];
const ASCII_NAME = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_';
const NAME_MORE = ASCII_NAME + '0123456789-.';
const UNI_START = ['é', 'ß', 'Ω', 'ж', '中', '文', 'ｱ', '\u{10000}', '\u{1D4B3}', 'ǅ'];
const UNI_MORE = [...UNI_START, '·', '\u0301', '‿'];
const TEXT_UNI = ['é', '€', '中文', '😀', '\u{10FFFD}', '\u00A0', '\u2028', '\uFFFD', 'ﬀ', '\u200B'];
const PREFIXES = ['p', 'q', 'x', 'db', 'stream', 'ns1', 'a-b', 'é', 'n.s'];
const REFS = ['&amp;', '&lt;', '&gt;', '&quot;', '&apos;', '&#65;', '&#x41;', '&#x1F600;', '&#128512;', '&#xD;', '&#9;', '&#10;', '&#x20AC;', '&#0065;'];

// Edge cases of XML and its namespaces, some well-formed, some not (the differential check
// settles which): put into a start tag after its name, or into content.
export const EDGE_ATTRS = [
  'xmlns=""', "xmlns:p=''", "xmlns:p='urn:a' xmlns:q='urn:a' p:x='1' q:x='2'", "xmlns:p='urn:a' xmlns:q='urn:b' p:x='1' q:x='2'",
  "xmlns:p='urn:a' p:x='1' x='2'", "xml:space='preserve'", "xmlns:xml='http://www.w3.org/XML/1998/namespace'",
  "xmlns:xml='urn:x'", "xmlns:xmlns='urn:x'", "xmlns='http://www.w3.org/XML/1998/namespace'", "xmlns='http://www.w3.org/2000/xmlns/'",
  "xmlns:p='http://www.w3.org/2000/xmlns/'", "u:x='1'", "xmlns:p='urn:a' xmlns:p='urn:b'", "a='&#x10FFFF;&#xE000;&#xD7FF;&#x0000041;'",
  "a='&#X41;'", "a='&#xD800;'", "a='&#65'", "a='<'", "a='x&y'", "a='&amp;#38;&#38;#38;'", 'a="\'&quot;"', "a='\t\n\r\n'",
  "a=''", "xmlns:p='u r i'", "xmlns:p='&#1;'", "xmlns:p='urn:a' p:xmlns='1'", "a:b:c='1'", ":a='1'", "a:='1'", "xmlns:p='urn:a' xmlns:p2='urn:a'",
  "a='1' A='2'", "a='1' a ='2'", "xmlns:é='urn:a' é:x='1'", "a=\"&#34;&#39;'\"", "a='&#x20;&#32; '", "a='&#13;&#10;&#9;'",
  "b='1'c='2'", 'a=1', "a='1'/", "xmlns:p='urn:a' xmlns:p=\"urn:a\"", "xmlns='urn:a' xmlns='urn:a'",
];
export const EDGE_CONTENT = [
  '<xml:a/>', '<xmlns:a/>', "<p:a xmlns:p='urn:a'><p:b xmlns:p='urn:b'/></p:a>", "<a xmlns='urn:a'><b xmlns=''/></a>",
  "<p:a xmlns:p='urn:a'></p:a >", "<p:a xmlns:p='urn:a'></q:a>", '<a></a b>', '&#x10FFFF;', '&#x110000;', '&#0;', '&#xFFFE;',
  '&#xFFFD;', '&#x9;&#xA;&#xD;', ']]&gt;', ']]>', ']]]>', '<![CDATA[]]>', '<![CDATA[<![CDATA[]]>', '<![CDATA[]]]]><![CDATA[>]]>',
  '\r\r\n\n', '<a/ >', '< a/>', "<a\nb\n=\n'1'\n/>", '&lt;&#60;&#x3C;', '&unknown;', '<?pi?>', '<!-- -->', '<!DOCTYPE x>',
  '&#x1F600;&#55357;&#56832;', '&#xDFFF;', '&#1114111;', '&#1114112;', '&amp', '&;', '&#;', '&#x;', '&a b;', '<a:b/>', '<_.-a/>',
  '<a-/>', '<.a/>', '<-a/>', '<1/>', "<a xmlns:p='urn:a'><p:b/></a>", "<a xmlns:p='urn:a'/><p:b/>", '<![cdata[x]]>', '<![CDATA[x]]]>',
  '\u0085\u2028', '\uFEFF', '<a>\r</a>', '<a>\r\n</a>', "<a b='\r'/>", '<a b="\r\n"/>',
];

/** A random XML Name (no colon): mostly ASCII, sometimes non-ASCII and astral name characters. */
export function randName(r, max = 8) {
  let s = r.chance(0.08) ? r.pick(UNI_START) : ASCII_NAME[r.int(ASCII_NAME.length)];
  const n = r.int(max);
  for (let k = 0; k < n; k++) s += r.chance(0.05) ? r.pick(UNI_MORE) : NAME_MORE[r.int(NAME_MORE.length)];
  return s;
}

function randUri(r) {
  if (r.chance(0.7)) return r.pick(KNOWN_NS);
  return `urn:x-${randName(r, 5)}:${r.int(100)}${r.chance(0.2) ? '&amp;x' : ''}${r.chance(0.1) ? '\u00E9' : ''}`;
}

/** Character data (already escaped) with references, line ends, whitespace and non-ASCII text. */
export function randText(r, max = 6) {
  let s = '';
  const n = r.int(max) + 1;
  for (let k = 0; k < n; k++) {
    const c = r.int(12);
    if (c < 4) s += randName(r, 6);
    else if (c === 4) s += r.pick(REFS);
    else if (c === 5) s += r.pick(['\r\n', '\r', '\n', '\t', '  ', '\r\r\n']);
    else if (c === 6) s += r.pick(TEXT_UNI);
    else if (c === 7) s += r.pick(['>', ']]x', ']x', "'", '"', '=', '/', '?', '!', '-->']);
    else s += ' ' + randName(r, 4);
  }
  return s;
}

function randAttrValue(r, quote) {
  let s = '';
  const n = r.int(5);
  for (let k = 0; k < n; k++) {
    const c = r.int(10);
    if (c < 4) s += randName(r, 6);
    else if (c === 4) s += r.pick(REFS);
    else if (c === 5) s += r.pick(['\t', '\n', '\r\n', '\r', ' ']);
    else if (c === 6) s += r.pick(TEXT_UNI);
    else if (c === 7) s += quote === '"' ? "'" : '"';
    else if (c === 8) s += r.pick(['>', '/', '=', '@', ':', '#']);
    else s += randJid(r);
  }
  return s;
}

/** A JID-looking string (escaped for an attribute value). */
export function randJid(r) {
  let s = '';
  if (r.chance(0.8)) s += randName(r, 10) + '@';
  s += r.pick(['localhost', 'example.net', 'abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst.b32.i2p', 'conference.localhost', randName(r, 12)]);
  if (r.chance(0.5)) s += '/' + randName(r, 10) + (r.chance(0.2) ? ' r&amp;s' : '');
  return s;
}

const sp = (r) => (r.chance(0.9) ? ' ' : r.pick(['  ', '\n', '\t', '\r\n ']));
const ows = (r) => (r.chance(0.9) ? '' : r.pick([' ', '\n', '\t']));

/** Scope: prefix → uri for the prefixes bound at this point. */
function bound(scope) {
  return Object.keys(scope);
}

/**
 * One element (with its subtree), well-formed. `scope` maps bound prefixes; `budget.nodes`
 * bounds the size of the whole stanza.
 */
function element(r, scope, depth, budget, forcedName) {
  budget.nodes--;
  const attrs = [];
  const seen = new Set();
  const local = { ...scope };
  // Namespace declarations first (any order is fine for XML; they must precede use only logically).
  if (r.chance(0.3)) attrs.push(['xmlns', randUri(r)]);
  const ndecl = r.chance(0.2) ? r.range(1, 2) : 0;
  for (let k = 0; k < ndecl; k++) {
    const p = r.pick(PREFIXES);
    if (seen.has('xmlns:' + p)) continue;
    seen.add('xmlns:' + p);
    const uri = randUri(r);
    attrs.push(['xmlns:' + p, uri]);
    local[p] = uri;
  }
  let name = forcedName ?? randName(r);
  const prefixes = bound(local);
  if (!forcedName && prefixes.length > 0 && r.chance(0.25)) name = r.pick(prefixes) + ':' + name;
  const expanded = new Set();
  const nattr = r.chance(0.6) ? r.int(5) : 0;
  for (let k = 0; k < nattr; k++) {
    let a;
    let key;
    const kind = r.int(10);
    if (kind < 5) {
      a = r.pick(['to', 'from', 'id', 'type', 'xml:lang', 'node', 'jid', 'name', 'ver', 'var']);
    } else if (kind < 8 || prefixes.length === 0) {
      a = randName(r, 6);
    } else {
      const p = r.pick(prefixes);
      a = p + ':' + randName(r, 4);
      key = local[p] + '\u0000' + a.slice(p.length + 1);
    }
    if (a.startsWith('xml') && a !== 'xml:lang') continue; // names starting with "xml" are reserved
    key ??= a === 'xml:lang' ? 'xml\u0000lang' : a;
    if (expanded.has(key) || seen.has(a)) continue;
    expanded.add(key);
    seen.add(a);
    attrs.push([a, a === 'to' || a === 'from' || a === 'jid' ? randJid(r) : null]);
  }
  let s = '<' + name;
  if (budget.edge && r.chance(0.15)) s += ' ' + r.pick(EDGE_ATTRS);
  for (const [k, v] of attrs) {
    const q = r.chance(0.5) ? "'" : '"';
    s += sp(r) + k + ows(r) + '=' + ows(r) + q + (v ?? randAttrValue(r, q)) + q;
  }
  s += ows(r);
  const nkids = depth > 0 && budget.nodes > 0 ? r.int(4) : 0;
  if (nkids === 0 && r.chance(0.5)) return s + '/>';
  s += '>';
  for (let k = 0; k < nkids || (k === 0 && r.chance(0.5)); k++) {
    const c = r.int(10);
    if (c < 5 && budget.nodes > 0 && k < nkids) s += element(r, local, depth - 1, budget);
    else if (c < 8) s += randText(r);
    else if (c === 8) s += `<![CDATA[${randText(r).replace(/&/g, '<&>')}]]>`;
    else if (budget.edge && r.chance(0.5)) s += r.pick(EDGE_CONTENT);
    else s += r.pick(['\n', ' ', '\r\n  ']);
  }
  return s + '</' + name + ows(r) + '>';
}

const STANZA_NAMES = ['message', 'presence', 'iq', 'iq', 'message', null];

/** One stanza: message/presence/iq (or a random element) at stream level. */
export function stanza(r, rootScope, edge = false) {
  const name = r.pick(STANZA_NAMES) ?? undefined;
  return element(r, rootScope, r.int(6), { nodes: r.range(1, 30), edge }, name);
}

/**
 * A whole stream document. Options: `stanzas` (max count), `edge` (put in edge cases, which
 * may make it malformed). Returns a string; callers encode it.
 * The root is usually `<stream:stream>` with the usual declarations, sometimes another name.
 */
export function document(r, { stanzas = 8, edge = false } = {}) {
  let s = '';
  if (r.chance(0.02)) s += '\uFEFF';
  if (r.chance(0.5)) {
    const q = r.chance(0.5) ? "'" : '"';
    s += `<?xml${sp(r)}version${ows(r)}=${ows(r)}${q}1.${r.chance(0.9) ? 0 : 1}${q}`;
    if (r.chance(0.3)) s += `${sp(r)}encoding=${q}${r.pick(['UTF-8', 'utf-8', 'Utf-8'])}${q}`;
    if (r.chance(0.1)) s += `${sp(r)}standalone=${q}${r.pick(['yes', 'no'])}${q}`;
    s += ows(r) + '?>';
  }
  if (r.chance(0.2)) s += r.pick(['\n', ' ', '\r\n', '\t\n']);
  const rootScope = {};
  let rootName;
  const rootAttrs = [];
  if (r.chance(0.85)) {
    rootName = 'stream:stream';
    rootScope.stream = NS_STREAM;
    rootAttrs.push(['xmlns', r.pick(['jabber:client', 'jabber:server'])], ['xmlns:stream', NS_STREAM]);
    if (r.chance(0.3)) {
      rootAttrs.push(['xmlns:db', 'jabber:server:dialback']);
      rootScope.db = 'jabber:server:dialback';
    }
    rootAttrs.push(['to', randJid(r)], ['version', '1.0']);
    if (r.chance(0.3)) rootAttrs.push(['xml:lang', r.pick(['en', 'fr-CA', 'i-klingon', ''])]);
    if (r.chance(0.3)) rootAttrs.push(['id', randName(r, 12)]);
  } else {
    rootName = randName(r);
    if (r.chance(0.5)) rootAttrs.push(['xmlns', randUri(r)]);
  }
  // Shuffle attribute order: namespace declarations may come after their use.
  for (let k = rootAttrs.length - 1; k > 0; k--) {
    const j = r.int(k + 1);
    [rootAttrs[k], rootAttrs[j]] = [rootAttrs[j], rootAttrs[k]];
  }
  s += '<' + rootName + rootAttrs.map(([k, v]) => `${sp(r)}${k}='${v}'`).join('') + ows(r);
  if (r.chance(0.01)) return s + '/>';
  s += '>';
  const n = r.int(stanzas + 1);
  for (let k = 0; k < n; k++) {
    if (r.chance(0.3)) s += r.pick(['\n', ' ', '\r\n', '\t', '\n\n  ']);
    s += stanza(r, rootScope, edge);
  }
  if (r.chance(0.9)) s += '</' + rootName + ows(r) + '>' + (r.chance(0.1) ? '\n' : '');
  return s;
}
