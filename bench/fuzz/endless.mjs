// Endless constructs for the growth check: each is a prefix and a piece repeated forever. A
// parser that buffers without a bound grows with the input; Clove's must either fail within
// its stanza limit (plus one chunk) or, where the input is legitimately endless (whitespace,
// a stream of small stanzas), keep its memory flat.

const HEAD = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

/** [name, prefix, repeated piece, whether the parser must fail (true) or keep going (false)] */
export const ENDLESS = [
  ['stanza text', HEAD + '<message><body>', 'hello world &amp; more ', true],
  ['CDATA section', HEAD + '<message><body><![CDATA[', 'x<y&z ]] ', true],
  ['attribute value', HEAD + "<message to='", 'romeo@example.net/', true],
  ['element name', HEAD + '<m', 'essage', true],
  ['attributes (distinct)', HEAD + '<message', null, true],
  ['whitespace in a tag', HEAD + '<message', '    \n', true],
  ['whitespace in a close tag', HEAD + '<message></message', '    \n', true],
  ['nesting', HEAD, '<a>', true],
  ['children of one stanza', HEAD + '<message>', '<x/>', true],
  ['stream header attributes', "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'", null, true],
  ['reference name', HEAD + '<message><body>&', 'a', true],
  ['XML declaration', "<?xml version='1.0' ", '    ', true],
  ['whitespace between stanzas', HEAD, ' \r\n\t', false],
  ['whitespace before the root', '', ' \r\n\t', false],
  ['stanzas', HEAD, "<message to='juliet@example.net' type='chat' id='a1'><body>hi &amp; bye</body></message>", false],
];

/** The k-th repeated piece of endless construct `e` (distinct attribute names where needed). */
export function piece(e, k) {
  if (e[2] !== null) return e[2];
  return ` a${k}='v'`;
}
