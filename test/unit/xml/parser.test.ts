import { describe, it, expect } from 'vitest';
import { Element } from '../../../src/xml/element.js';
import {
  DEFAULT_LIMITS,
  StreamParser,
  type ParserLimits,
  type XmlErrorCondition,
} from '../../../src/xml/parser.js';

type Event =
  | ['start', string, Record<string, string>]
  | ['stanza', string]
  | ['end']
  | ['error', XmlErrorCondition, string];

interface Recorder {
  parser: StreamParser;
  events: Event[];
  stanzas: Element[];
}

function recorder(limits?: Partial<ParserLimits>): Recorder {
  const events: Event[] = [];
  const stanzas: Element[] = [];
  const parser = new StreamParser(
    {
      streamStart: (name, attrs) => events.push(['start', name, attrs]),
      stanza: (el) => {
        stanzas.push(el);
        events.push(['stanza', el.toString()]);
      },
      streamEnd: () => events.push(['end']),
      error: (condition, text) => events.push(['error', condition, text]),
    },
    limits,
  );
  return { parser, events, stanzas };
}

/** Feed the chunks; return all events. */
function feed(chunks: (string | Buffer)[] | string | Buffer, limits?: Partial<ParserLimits>): Event[] {
  const r = recorder(limits);
  for (const c of Array.isArray(chunks) ? chunks : [chunks]) r.parser.write(c);
  return r.events;
}

function errors(events: Event[]): Event[] {
  return events.filter((e) => e[0] === 'error');
}

/** The condition of the single error the input produces (fed whole, and one byte at a time). */
function conditionOf(xml: string | Buffer, limits?: Partial<ParserLimits>): XmlErrorCondition | undefined {
  const whole = errors(feed(xml, limits));
  const bytes = Buffer.isBuffer(xml) ? xml : Buffer.from(xml);
  const split = errors(feed([...bytes].map((b) => Buffer.from([b])), limits));
  expect(whole.length).toBeLessThanOrEqual(1);
  expect(split.length).toBe(whole.length);
  if (whole.length === 0) return undefined;
  expect(split[0]![1]).toBe(whole[0]![1]);
  return whole[0]![1] as XmlErrorCondition;
}

const HEAD =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.net' version='1.0'>";
const HEAD_ATTRS = {
  xmlns: 'jabber:client',
  'xmlns:stream': 'http://etherx.jabber.org/streams',
  to: 'example.net',
  version: '1.0',
};

/** Stanzas parsed from `body` inside a standard stream header (no errors allowed). */
function stanzas(body: string): Element[] {
  const r = recorder();
  r.parser.write(HEAD + body);
  expect(errors(r.events)).toEqual([]);
  return r.stanzas;
}

const inStream = (body: string): XmlErrorCondition | undefined => conditionOf(HEAD + body);

describe('StreamParser: stream structure', () => {
  it('reports the root open tag with its raw name and attributes, stanzas in order, and the close', () => {
    const events = feed(HEAD + "<presence/><message to='a@b'><body>hi</body></message></stream:stream>");
    expect(events).toEqual([
      ['start', 'stream:stream', HEAD_ATTRS],
      ['stanza', '<presence/>'],
      ['stanza', '<message to="a@b"><body>hi</body></message>'],
      ['end'],
    ]);
  });

  it('exports the default limits', () => {
    expect(DEFAULT_LIMITS).toEqual({ maxStanzaBytes: 262144, maxDepth: 64, maxAttrs: 64, maxElements: 4096 });
  });

  it('drops whitespace between stanzas and before the root, keeps it inside stanzas', () => {
    const r = recorder();
    r.parser.write(' \r\n\t' + HEAD + '\n  <message>\n  <body> a  b </body>\n</message>\n\t \n</stream:stream>\n ');
    expect(errors(r.events)).toEqual([]);
    expect(r.stanzas).toHaveLength(1);
    expect(r.stanzas[0]!.children).toEqual(['\n  ', new Element('body', {}, [' a  b ']), '\n']);
  });

  it('accepts a self-closing root as a start and an end', () => {
    expect(feed("<stream:stream xmlns:stream='urn:x'/>")).toEqual([['start', 'stream:stream', { 'xmlns:stream': 'urn:x' }], ['end']]);
  });

  it('builds nested elements with attributes and merged text', () => {
    const [iq] = stanzas("<iq type='get' id='1'><query xmlns='jabber:iq:roster'><item jid='a@b' name='A &amp; B'/>x<![CDATA[y]]>z</query></iq>");
    expect(iq!.name).toBe('iq');
    expect(iq!.attrs).toEqual({ type: 'get', id: '1' });
    const query = iq!.getChild('query', 'jabber:iq:roster')!;
    expect(query.children).toHaveLength(2);
    expect(query.getChild('item')!.attrs).toEqual({ jid: 'a@b', name: 'A & B' });
    expect(query.children[1]).toBe('xyz');
  });

  it('keeps attributes named like Object.prototype members', () => {
    const [el] = stanzas("<x constructor='1' __proto__='2' toString='3' hasOwnProperty='4'/>");
    expect(Object.keys(el!.attrs)).toEqual(['constructor', '__proto__', 'toString', 'hasOwnProperty']);
    expect(Object.getOwnPropertyDescriptor(el!.attrs, '__proto__')!.value).toBe('2');
    expect(Object.getPrototypeOf(el!.attrs)).toBe(Object.prototype);
    expect(inStream("<x __proto__='1' __proto__='2'/>")).toBe('not-well-formed');
  });

  it('accepts non-ASCII names, text and attribute values', () => {
    const [el] = stanzas("<café ñ='ü'>日本語 😀 <𐀀/></café>");
    expect(el!.name).toBe('café');
    expect(el!.attrs).toEqual({ ñ: 'ü' });
    expect(el!.children[0]).toBe('日本語 😀 ');
    expect((el!.children[1] as Element).name).toBe('𐀀');
  });
});

describe('StreamParser: XML declaration and encoding', () => {
  it('accepts an XML declaration at the very start', () => {
    for (const decl of [
      "<?xml version='1.0'?>",
      '<?xml version="1.0" encoding="UTF-8"?>',
      "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>",
      '<?xml  version = "1.0"\n encoding = "Utf-8"?>',
    ]) {
      expect(conditionOf(decl + HEAD + '</stream:stream>')).toBeUndefined();
    }
  });

  it('refuses a declaration anywhere else', () => {
    expect(conditionOf(" <?xml version='1.0'?>" + HEAD)).toBe('not-well-formed');
    expect(inStream("<?xml version='1.0'?>")).toBe('not-well-formed');
    expect(conditionOf("<?xml version='1.0'?><?xml version='1.0'?>" + HEAD)).toBe('not-well-formed');
  });

  it('refuses a malformed declaration', () => {
    expect(conditionOf('<?xml?>' + HEAD)).toBe('not-well-formed');
    expect(conditionOf("<?xml encoding='UTF-8'?>" + HEAD)).toBe('not-well-formed');
    expect(conditionOf("<?xml version='2.0'?>" + HEAD)).toBe('not-well-formed');
    expect(conditionOf("<?xml version='1.0' bogus='1'?>" + HEAD)).toBe('not-well-formed');
    expect(conditionOf('<?xml version="1.0\'?>' + HEAD)).toBe('not-well-formed');
    expect(conditionOf('<?xml ' + ' '.repeat(2000))).toBe('not-well-formed');
  });

  it('answers unsupported-encoding for any encoding but UTF-8', () => {
    expect(conditionOf("<?xml version='1.0' encoding='ISO-8859-1'?>" + HEAD)).toBe('unsupported-encoding');
    expect(conditionOf("<?xml version='1.0' encoding='UTF-16'?>" + HEAD)).toBe('unsupported-encoding');
  });

  it('answers unsupported-encoding for UTF-16 input', () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(HEAD, 'utf16le')]);
    expect(conditionOf(le)).toBe('unsupported-encoding');
    expect(conditionOf(Buffer.from(HEAD, 'utf16le'))).toBe('unsupported-encoding');
    const be = Buffer.from(HEAD, 'utf16le').swap16();
    expect(conditionOf(be)).toBe('unsupported-encoding');
  });

  it('ignores a UTF-8 byte order mark at the start', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("<?xml version='1.0'?>" + HEAD)]);
    expect(conditionOf(bytes)).toBeUndefined();
    expect(feed(bytes)[0]).toEqual(['start', 'stream:stream', HEAD_ATTRS]);
    expect(conditionOf('\uFEFF' + HEAD)).toBeUndefined();
  });

  it('decodes multi-byte UTF-8 split across writes', () => {
    const text = 'é 日 😀';
    const bytes = Buffer.from(HEAD + `<m>${text}</m>`);
    for (let k = HEAD.length; k < bytes.length; k++) {
      const r = recorder();
      r.parser.write(bytes.subarray(0, k));
      r.parser.write(bytes.subarray(k));
      expect(errors(r.events)).toEqual([]);
      expect(r.stanzas[0]!.text()).toBe(text);
    }
  });

  it('refuses invalid UTF-8: bad bytes, overlong forms, surrogates, beyond U+10FFFF, truncation', () => {
    const cases = [
      [0xff],
      [0x80],
      [0xc3, 0x28],
      [0xc0, 0xaf], // overlong '/'
      [0xe0, 0x80, 0xaf], // overlong '/'
      [0xf0, 0x80, 0x80, 0xaf], // overlong '/'
      [0xc1, 0xbf], // overlong
      [0xed, 0xa0, 0x80], // U+D800
      [0xed, 0xbf, 0xbf], // U+DFFF
      [0xf4, 0x90, 0x80, 0x80], // U+110000
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0xe2, 0x82], // truncated, then ASCII
    ];
    for (const bad of cases) {
      const input = Buffer.concat([Buffer.from(HEAD + '<m>'), Buffer.from(bad), Buffer.from('x</m>')]);
      expect(conditionOf(input), Buffer.from(bad).toString('hex')).toBe('not-well-formed');
    }
  });

  it('refuses unpaired surrogates in string input but accepts pairs split across writes', () => {
    expect(errors(feed(HEAD + '<m>\uD800x</m>'))[0]![1]).toBe('not-well-formed');
    expect(errors(feed([HEAD + '<m>\uDC00</m>']))[0]![1]).toBe('not-well-formed');
    expect(errors(feed([HEAD + '<m>\uD800', '</m>']))[0]![1]).toBe('not-well-formed');
    const r = recorder();
    for (const ch of (HEAD + '<m>😀</m>').split('')) r.parser.write(ch);
    expect(errors(r.events)).toEqual([]);
    expect(r.stanzas[0]!.text()).toBe('😀');
  });
});

describe('StreamParser: restricted XML (RFC 6120 §11.1)', () => {
  it('refuses comments', () => {
    expect(conditionOf('<!-- hi -->' + HEAD)).toBe('restricted-xml');
    expect(inStream('<!-- hi -->')).toBe('restricted-xml');
    expect(inStream('<message><!-- hi --></message>')).toBe('restricted-xml');
  });

  it('refuses processing instructions', () => {
    expect(conditionOf('<?foo bar?>' + HEAD)).toBe('restricted-xml');
    expect(inStream('<message><?foo bar?></message>')).toBe('restricted-xml');
    expect(inStream('<?xml-stylesheet href="a"?>')).toBe('restricted-xml');
  });

  it('refuses DOCTYPE, internal and external subsets, and entity declarations', () => {
    expect(conditionOf('<!DOCTYPE stream:stream>' + HEAD)).toBe('restricted-xml');
    expect(conditionOf('<!DOCTYPE x [<!ENTITY a "b">]>' + HEAD)).toBe('restricted-xml');
    expect(conditionOf('<!DOCTYPE x SYSTEM "http://example.com/x.dtd">' + HEAD)).toBe('restricted-xml');
    expect(inStream('<!ENTITY a "b">')).toBe('restricted-xml');
    expect(inStream('<message><!ELEMENT a ANY></message>')).toBe('restricted-xml');
  });

  it('refuses entity references other than the five predefined ones', () => {
    expect(inStream('<m>&nbsp;</m>')).toBe('restricted-xml');
    expect(inStream("<m a='&foo;'/>")).toBe('restricted-xml');
    expect(inStream('<m>&x:y;</m>')).toBe('restricted-xml');
    expect(inStream(`<m>&${'a'.repeat(40)};</m>`)).toBe('restricted-xml');
  });

  it('decodes the five predefined entities and numeric references', () => {
    const [m] = stanzas("<m a='&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;'>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1f600;&#0000067;</m>");
    expect(m!.attrs.a).toBe(`<>&"'AB😀`);
    expect(m!.text()).toBe(`<>&"'AB😀C`);
  });

  it('refuses numeric references to characters outside XML Char', () => {
    for (const r of ['&#0;', '&#x1;', '&#8;', '&#x1F;', '&#xD800;', '&#xDFFF;', '&#xFFFE;', '&#xFFFF;', '&#x110000;', '&#99999999999999;']) {
      expect(inStream(`<m>${r}</m>`), r).toBe('not-well-formed');
      expect(inStream(`<m a='${r}'/>`), r).toBe('not-well-formed');
    }
  });

  it('refuses malformed numeric references', () => {
    for (const r of ['&#;', '&#x;', '&#X41;', '&#12a;', '&#xG;', '&# 1;', '&#65', `&#${'0'.repeat(40)}65;`]) {
      expect(inStream(`<m>${r}</m>`), r).toBe('not-well-formed');
    }
  });
});

describe('StreamParser: well-formedness', () => {
  it('refuses mismatched and unclosed tags', () => {
    expect(inStream('<message></presence>')).toBe('not-well-formed');
    expect(inStream('<message><body></message>')).toBe('not-well-formed');
    expect(inStream('<message><body></stream:stream>')).toBe('not-well-formed');
    expect(inStream('<message></messages>')).toBe('not-well-formed');
    expect(inStream('<message></mess>')).toBe('not-well-formed');
    expect(conditionOf('</stream:stream>')).toBe('not-well-formed');
    expect(conditionOf(HEAD + '</stream:stream></stream:stream>')).toBe('not-well-formed');
    expect(inStream('<message></message >')).toBeUndefined();
    expect(inStream('<message></message x>')).toBe('not-well-formed');
  });

  it('refuses bad names', () => {
    for (const bad of ['<1a/>', '<-a/>', '<.a/>', '< a/>', '<a:b:c/>', '<:a/>', '<a:/>', '<a:1/>', "<a 1b='x'/>", "<a :b='x'/>", '<a\u00d7/>']) {
      expect(inStream(bad), bad).toBe('not-well-formed');
    }
    expect(inStream("<a-b.c_d1 e-f.g_1='x'/>")).toBeUndefined();
  });

  it('refuses unquoted, missing and badly separated attribute values', () => {
    expect(inStream('<m a=b/>')).toBe('not-well-formed');
    expect(inStream('<m a/>')).toBe('not-well-formed');
    expect(inStream('<m a=/>')).toBe('not-well-formed');
    expect(inStream("<m a='1'b='2'/>")).toBe('not-well-formed');
    expect(inStream("<m a='1\"/><x/>")).toBe('not-well-formed');
    expect(inStream("<m/ >")).toBe('not-well-formed');
    expect(inStream("<m a = '1' b\n=\n\"2\" />")).toBeUndefined();
  });

  it('refuses duplicate attributes, also after prefix resolution', () => {
    expect(inStream("<m a='1' a='2'/>")).toBe('not-well-formed');
    expect(inStream("<m xmlns:p='urn:x' xmlns:q='urn:x' p:a='1' q:a='2'/>")).toBe('not-well-formed');
    expect(inStream("<m xmlns:p='urn:x' xmlns:q='urn:y' p:a='1' q:a='2'/>")).toBeUndefined();
    expect(inStream("<m xmlns:p='urn:x' a='1' p:a='2'/>")).toBeUndefined();
    expect(conditionOf("<s:s xmlns:s='urn:s' xmlns:p='urn:x'><m xmlns:q='urn:x' p:a='1' q:a='2'/>")).toBe('not-well-formed');
  });

  it("refuses '<' in an attribute value", () => {
    expect(inStream("<m a='<'/>")).toBe('not-well-formed');
    expect(inStream("<m a='x<y'/>")).toBe('not-well-formed');
    expect(inStream(`<m a='${'x'.repeat(100)}<${'y'.repeat(100)}`)).toBe('not-well-formed');
    expect(inStream("<m a='>'/>")).toBeUndefined();
  });

  it("refuses a bare '&'", () => {
    for (const bad of ['<m>a & b</m>', '<m>&</m>', '<m>&amp</m>', '<m>&;</m>', '<m>&a b;</m>', "<m a='&'/>", "<m a='&amp'/>", '<m>&<b/></m>']) {
      expect(inStream(bad), bad).toBe('not-well-formed');
    }
  });

  it('refuses characters outside XML Char', () => {
    for (const ch of ['\u0000', '\u0001', '\u0008', '\u000B', '\u000C', '\u001F', '\uFFFE', '\uFFFF']) {
      expect(inStream(`<m>${ch}</m>`), JSON.stringify(ch)).toBe('not-well-formed');
      expect(inStream(`<m a='${ch}'/>`), JSON.stringify(ch)).toBe('not-well-formed');
    }
    expect(inStream('<m>\t\u0085\u00a0\u2028\uFFFD</m>')).toBeUndefined();
  });

  it("refuses ']]>' in text but not in attributes or split brackets", () => {
    expect(inStream('<m>a]]>b</m>')).toBe('not-well-formed');
    expect(inStream('<m>]]></m>')).toBe('not-well-formed');
    expect(inStream('<m>]] ></m>')).toBeUndefined();
    expect(inStream("<m a=']]>'>]]]</m>")).toBeUndefined();
  });

  it('refuses non-whitespace text between stanzas, before the root and after it', () => {
    expect(inStream('x')).toBe('not-well-formed');
    expect(inStream('<presence/> hello <presence/>')).toBe('not-well-formed');
    expect(inStream('&#32;')).toBe('not-well-formed');
    expect(inStream('\u00a0')).toBe('not-well-formed');
    expect(conditionOf('x' + HEAD)).toBe('not-well-formed');
    expect(conditionOf(HEAD + '</stream:stream> x')).toBe('not-well-formed');
    expect(conditionOf(HEAD + '</stream:stream><presence/>')).toBe('not-well-formed');
    expect(conditionOf(HEAD + '</stream:stream>' + HEAD)).toBe('not-well-formed');
    expect(conditionOf(HEAD + '</stream:stream> \n\t ')).toBeUndefined();
  });

  it('refuses unbound namespace prefixes on elements and attributes', () => {
    expect(inStream('<foo:bar/>')).toBe('not-well-formed');
    expect(inStream("<message foo:bar='1'/>")).toBe('not-well-formed');
    expect(inStream('<message><x:y/></message>')).toBe('not-well-formed');
    expect(conditionOf("<stream:stream xmlns='jabber:client'>")).toBe('not-well-formed');
    expect(inStream("<message><a xmlns:x='urn:x'/><x:y/></message>")).toBe('not-well-formed');
    expect(inStream("<message xml:lang='en'><x:y xmlns:x='urn:x' x:z='1'/></message>")).toBeUndefined();
  });

  it('refuses namespace declarations that Namespaces in XML forbids', () => {
    expect(inStream("<m xmlns:p=''/>")).toBe('not-well-formed');
    expect(inStream("<m xmlns:xml='urn:x'/>")).toBe('not-well-formed');
    expect(inStream("<m xmlns:xml='http://www.w3.org/XML/1998/namespace'/>")).toBeUndefined();
    expect(inStream("<m xmlns:xmlns='urn:x'/>")).toBe('not-well-formed');
    expect(inStream("<m xmlns:p='http://www.w3.org/2000/xmlns/'/>")).toBe('not-well-formed');
    expect(inStream("<m xmlns='http://www.w3.org/XML/1998/namespace'/>")).toBe('not-well-formed');
    expect(inStream("<xmlns:m xmlns:xmlns='urn:x'/>")).toBe('not-well-formed');
    expect(inStream('<xmlns:m/>')).toBe('not-well-formed');
    expect(inStream("<m xmlns=''/>")).toBeUndefined();
  });
});

describe('StreamParser: CDATA', () => {
  it('turns CDATA sections into text', () => {
    const [m] = stanzas('<m>a<![CDATA[<b>&amp; ]] ]>]]>c<![CDATA[]]></m>');
    expect(m!.children).toEqual(['a<b>&amp; ]] ]>c']);
  });

  it('normalizes line ends inside CDATA', () => {
    const [m] = stanzas('<m><![CDATA[a\r\nb\rc]]></m>');
    expect(m!.text()).toBe('a\nb\nc');
  });

  it('refuses CDATA outside stanzas and malformed CDATA openers', () => {
    expect(inStream('<![CDATA[ ]]>')).toBe('not-well-formed');
    expect(conditionOf('<![CDATA[x]]>' + HEAD)).toBe('not-well-formed');
    expect(inStream('<m><![CDAT[x]]></m>')).toBe('not-well-formed');
    expect(inStream('<m><!x></m>')).toBe('not-well-formed');
  });
});

describe('StreamParser: normalization', () => {
  it('normalizes whitespace in attribute values and keeps references', () => {
    const [m] = stanzas("<m a='x\ty\nz\r\nw\rv' b='&#9;&#10;&#13;'/>");
    expect(m!.attrs.a).toBe('x y z w v');
    expect(m!.attrs.b).toBe('\t\n\r');
  });

  it('turns CRLF and CR into LF in text, keeps &#13;', () => {
    const [m] = stanzas('<m>a\r\nb\rc\n\rd&#13;\r</m>');
    expect(m!.text()).toBe('a\nb\nc\n\nd\r\n');
  });

  it('handles CRLF split across writes', () => {
    const r = recorder();
    r.parser.write(HEAD + '<m>a\r');
    r.parser.write('\nb</m>');
    expect(r.stanzas[0]!.text()).toBe('a\nb');
  });
});

describe('StreamParser: namespaces on stanzas', () => {
  const S2S =
    "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='a.example'>";

  it('copies root prefix declarations used by a stanza onto it', () => {
    const r = recorder();
    r.parser.write(S2S + "<db:result from='b.example' to='a.example'>key</db:result><stream:features><x/></stream:features>");
    expect(errors(r.events)).toEqual([]);
    expect(r.stanzas[0]!.attrs).toEqual({ from: 'b.example', to: 'a.example', 'xmlns:db': 'jabber:server:dialback' });
    expect(r.stanzas[0]!.xmlns).toBe('jabber:server:dialback');
    expect(r.stanzas[1]!.attrs).toEqual({ 'xmlns:stream': 'http://etherx.jabber.org/streams' });
  });

  it('copies declarations used only by descendants or attributes', () => {
    const r = recorder();
    r.parser.write(S2S + "<message><db:x/><y db:z='1'/></message><iq db:a='1'/>");
    expect(r.stanzas[0]!.attrs).toEqual({ 'xmlns:db': 'jabber:server:dialback' });
    expect(r.stanzas[1]!.attrs).toEqual({ 'db:a': '1', 'xmlns:db': 'jabber:server:dialback' });
  });

  it('leaves stanzas alone when they declare what they use, and adds no default xmlns', () => {
    const r = recorder();
    r.parser.write(S2S + "<db:verify xmlns:db='urn:other' id='1'/><message><body>x</body></message><a><b xmlns:db='urn:b'><db:c/></b></a>");
    expect(r.stanzas[0]!.attrs).toEqual({ 'xmlns:db': 'urn:other', id: '1' });
    expect(r.stanzas[1]!.attrs).toEqual({});
    expect(r.stanzas[2]!.attrs).toEqual({});
    expect(r.stanzas[1]!.toString()).toBe('<message><body>x</body></message>');
  });

  it('does not copy the predefined xml prefix', () => {
    const [m] = stanzas("<message xml:lang='en'/>");
    expect(m!.attrs).toEqual({ 'xml:lang': 'en' });
  });
});

describe('StreamParser: limits (policy-violation)', () => {
  const stanzaOf = (bytes: number): string => {
    const open = '<message><body>';
    const close = '</body></message>';
    return open + 'x'.repeat(bytes - open.length - close.length) + close;
  };

  it('accepts a stanza of exactly maxStanzaBytes and refuses one byte more', () => {
    expect(conditionOf(HEAD + stanzaOf(1000), { maxStanzaBytes: 1000 })).toBeUndefined();
    expect(conditionOf(HEAD + stanzaOf(1001), { maxStanzaBytes: 1000 })).toBe('policy-violation');
    expect(conditionOf(HEAD + `<m a='${'x'.repeat(2000)}'/>`, { maxStanzaBytes: 1000 })).toBe('policy-violation');
  });

  it('counts bytes, not characters', () => {
    const open = '<message><body>';
    const close = '</body></message>';
    const ok = open + 'é'.repeat((1000 - open.length - close.length) / 2) + close; // 2 bytes each
    expect(Buffer.byteLength(ok)).toBe(1000);
    expect(conditionOf(HEAD + ok, { maxStanzaBytes: 1000 })).toBeUndefined();
    expect(conditionOf(HEAD + ok.replace('é', 'éé'), { maxStanzaBytes: 1000 })).toBe('policy-violation');
    const emoji = open + '😀'.repeat(250) + close; // 4 bytes, 2 UTF-16 units each: 1032 bytes, 532 units
    expect(conditionOf(HEAD + emoji, { maxStanzaBytes: 1000 })).toBe('policy-violation');
  });

  it('refuses a 2 MiB stanza after about 256 KiB of input, without holding it', () => {
    for (const big of [
      `<message><body>${'x'.repeat(2 << 20)}</body></message>`,
      `<message a='${'x'.repeat(2 << 20)}'/>`,
      `<message>${'<a/>'.repeat(1 << 19)}</message>`,
      `<message><![CDATA[${'x'.repeat(2 << 20)}]]></message>`,
    ]) {
      const r = recorder();
      r.parser.write(HEAD);
      const bytes = Buffer.from(big);
      let fed = 0;
      for (let k = 0; k < bytes.length && r.events.length < 2; k += 65536) {
        r.parser.write(bytes.subarray(k, k + 65536));
        fed = k + 65536;
      }
      expect(errors(r.events)).toEqual([['error', 'policy-violation', expect.any(String)]]);
      expect(fed).toBeLessThanOrEqual(262144 + 65536);
    }
  });

  it('refuses an oversized stanza even within a single write', () => {
    const r = recorder();
    r.parser.write(HEAD + `<message>${'<a/>'.repeat(1 << 19)}</message>`);
    expect(errors(r.events)).toEqual([['error', 'policy-violation', expect.any(String)]]);
    expect(r.stanzas).toEqual([]);
  });

  it('bounds the root open tag', () => {
    expect(conditionOf(`<stream:stream xmlns:stream='x' a='${'x'.repeat(2000)}'>`, { maxStanzaBytes: 1000 })).toBe('policy-violation');
  });

  it('lets whitespace keepalives between stanzas through without limit', () => {
    const r = recorder({ maxStanzaBytes: 1000 });
    r.parser.write(HEAD);
    for (let k = 0; k < 100; k++) r.parser.write(' '.repeat(1000));
    r.parser.write('<presence/>');
    expect(r.events.map((e) => e[0])).toEqual(['start', 'stanza']);
  });

  it('refuses nesting deeper than maxDepth (a stanza is at depth 1)', () => {
    const nest = (d: number): string => '<a>'.repeat(d) + '</a>'.repeat(d);
    expect(inStream(nest(64))).toBeUndefined();
    expect(inStream(nest(65))).toBe('policy-violation');
    expect(conditionOf(HEAD + nest(3), { maxDepth: 3 })).toBeUndefined();
    expect(conditionOf(HEAD + nest(4), { maxDepth: 3 })).toBe('policy-violation');
  });

  it('refuses more than maxAttrs attributes on one element', () => {
    const attrs = (k: number): string => Array.from({ length: k }, (_, j) => ` a${j}='1'`).join('');
    expect(inStream(`<m${attrs(64)}/>`)).toBeUndefined();
    expect(inStream(`<m${attrs(65)}/>`)).toBe('policy-violation');
    expect(conditionOf(HEAD + `<m><n${attrs(3)}/></m>`, { maxAttrs: 2 })).toBe('policy-violation');
  });

  it('applies setLimits() to what follows, and validates limits', () => {
    const r = recorder();
    r.parser.write(HEAD + stanzaOf(1000));
    r.parser.setLimits({ maxStanzaBytes: 500 });
    r.parser.write(stanzaOf(501));
    expect(r.events.map((e) => e[1])).toEqual(['stream:stream', '<message><body>' + 'x'.repeat(968) + '</body></message>', 'policy-violation']);
    expect(() => r.parser.setLimits({ maxDepth: 0 })).toThrow(RangeError);
    const handlers = { streamStart() {}, stanza() {}, streamEnd() {}, error() {} };
    expect(() => new StreamParser(handlers, { maxAttrs: 1.5 })).toThrow(RangeError);
  });
});

// A stream using most constructs: decl, prefixes, refs, CDATA, CRLF, non-ASCII, whitespace.
const SAMPLE =
  "<?xml version='1.0' encoding='UTF-8'?>\n" +
  "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='é.example' version='1.0'>\r\n" +
  "  <db:result from='b.example' to='é.example'>a1b2</db:result>\n" +
  "<message to='juliet@é.example' from=\"romeo@b.example/orchard\" type='chat' xml:lang='en'>\r\n" +
  "  <body>hello &amp; wörld 😀 &lt;3 &#x263A;&#9731;\r\n line</body>" +
  "<x xmlns='urn:x' a='1 &quot;2&quot;\tz'><![CDATA[<raw> & ]] stuff\r\n]]><y/></x>" +
  '</message>\t<presence/>  <iq type="get" id="p1"><ping xmlns="urn:xmpp:ping"/></iq>\n' +
  '</stream:stream>\n';

describe('StreamParser: chunking', () => {
  const whole = feed(Buffer.from(SAMPLE));

  it('parses the sample stream cleanly', () => {
    expect(errors(whole)).toEqual([]);
    expect(whole.map((e) => e[0])).toEqual(['start', 'stanza', 'stanza', 'stanza', 'stanza', 'end']);
    expect(whole[1]).toEqual(['stanza', '<db:result from="b.example" to="é.example" xmlns:db="jabber:server:dialback">a1b2</db:result>']);
  });

  it('gives the same events for a split at every byte offset', () => {
    const bytes = Buffer.from(SAMPLE);
    for (let k = 0; k <= bytes.length; k++) {
      expect(feed([bytes.subarray(0, k), bytes.subarray(k)]), `split at ${k}`).toEqual(whole);
    }
  });

  it('gives the same events for three-way splits', () => {
    const bytes = Buffer.from(SAMPLE);
    for (let a = 0; a <= bytes.length; a += 7) {
      for (let b = a; b <= bytes.length; b += 11) {
        expect(feed([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)])).toEqual(whole);
      }
    }
  });

  it('gives the same events one byte at a time, and one character at a time', () => {
    expect(feed([...Buffer.from(SAMPLE)].map((b) => Buffer.from([b])))).toEqual(whole);
    expect(feed(SAMPLE.split(''))).toEqual(whole);
  });

  it('gives the same events for mutated (mostly broken) streams whatever the chunking', () => {
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const bits = ['<', '>', '/', '&', ';', "'", '"', '=', ' ', '\r', ']', '!', '?', '-', ':', '#', 'CDATA[', '&amp;', '&#x', 'é', '😀', '</a>', '<a>', ']]>', 'xmlns:p="u"'];
    for (let it = 0; it < 300; it++) {
      let doc = SAMPLE;
      for (let k = 1 + rnd(3); k > 0; k--) {
        const at = rnd(doc.length);
        doc = doc.slice(0, at) + (rnd(3) === 0 ? '' : bits[rnd(bits.length)]) + doc.slice(at + rnd(2));
      }
      const bytes = Buffer.from(doc);
      const expected = feed(bytes).map((e) => (e[0] === 'error' ? e[1] : JSON.stringify(e)));
      const cuts: Buffer[] = [];
      for (let k = 0; k < bytes.length; ) {
        const len = 1 + rnd(24);
        cuts.push(bytes.subarray(k, k + len));
        k += len;
      }
      for (const chunks of [cuts, [...bytes].map((b) => Buffer.from([b]))]) {
        expect(feed(chunks).map((e) => (e[0] === 'error' ? e[1] : JSON.stringify(e))), doc).toEqual(expected);
      }
    }
  });

  it("reports the first error of a cut tag holding '<' in document order, as whole", () => {
    // Found by bench/fuzz-parser.mjs: a cut tag was scanned for '<' before its attributes were
    // parsed, so a bad reference or one attribute too many before the '<' gave not-well-formed.
    const cases: [string, Partial<ParserLimits> | undefined][] = [
      [HEAD + `<message a='&${'x'.repeat(40)}<'/>`, undefined],
      [HEAD + "<message a='&bogus;' b='<'/>", undefined],
      [HEAD + "<message a='1' b='2' c='3' <", { maxAttrs: 2 }],
      [HEAD + "<message a='1' b='2' c='3<'/>", { maxAttrs: 2 }],
      [HEAD + "<message a='&lt;' <", undefined],
    ];
    for (const [doc, limits] of cases) {
      const want = errors(feed(doc, limits))[0]![1];
      const bytes = Buffer.from(doc);
      for (let k = HEAD.length + 2; k < bytes.length; k++) {
        const got = errors(feed([bytes.subarray(0, k), bytes.subarray(k)], limits))[0]?.[1];
        expect(got, `${doc} cut at ${k}`).toBe(want);
      }
    }
  });

  it('takes linear time for a large tag fed one byte at a time', () => {
    const tag = Buffer.from(HEAD + `<message a='${'x>'.repeat(50000)}'/>`);
    const r = recorder();
    const t0 = performance.now();
    for (let k = 0; k < tag.length; k++) r.parser.write(tag.subarray(k, k + 1));
    expect(r.stanzas).toHaveLength(1);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});

describe('StreamParser: reset()', () => {
  it('expects a new stream (with an XML declaration) after a restart', () => {
    const r = recorder();
    r.parser.write(HEAD + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>");
    r.parser.reset();
    r.parser.write("<?xml version='1.0'?>" + HEAD + '<iq/>');
    expect(r.events.map((e) => e[0])).toEqual(['start', 'stanza', 'start', 'stanza']);
  });

  it('forgets a partial stanza, carried bytes and a split UTF-8 sequence', () => {
    const r = recorder();
    r.parser.write(HEAD + '<message><body>abc &am');
    r.parser.write(Buffer.from([0xe2, 0x82]));
    r.parser.reset();
    r.parser.write(HEAD + '<presence/>');
    expect(errors(r.events)).toEqual([]);
    expect(r.events.map((e) => e[0])).toEqual(['start', 'start', 'stanza']);
  });

  it('discards the rest of the data when a handler restarts the stream (STARTTLS)', () => {
    const events: string[] = [];
    const parser: StreamParser = new StreamParser({
      streamStart: (name) => events.push('start ' + name),
      stanza: (el) => {
        events.push('stanza ' + el.name);
        if (el.name === 'starttls') parser.reset();
      },
      streamEnd: () => events.push('end'),
      error: (c) => events.push('error ' + c),
    });
    parser.write(HEAD + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='set'>injected</iq>");
    parser.write(HEAD + '<presence/>');
    expect(events).toEqual(['start stream:stream', 'stanza starttls', 'start stream:stream', 'stanza presence']);
  });

  it('clears a failure', () => {
    const r = recorder();
    r.parser.write(HEAD + '<1/>');
    r.parser.reset();
    r.parser.write(HEAD + '<presence/>');
    expect(r.events.map((e) => e[0])).toEqual(['start', 'error', 'start', 'stanza']);
  });
});

describe('StreamParser: error reporting', () => {
  it('calls error() exactly once and then ignores input until reset()', () => {
    const r = recorder();
    r.parser.write(HEAD + '<a><b></a><!-- --> x &bogus; </c>');
    r.parser.write('<presence/></stream:stream>');
    r.parser.write(Buffer.from([0xff, 0xfe]));
    expect(r.events.map((e) => e[0])).toEqual(['start', 'error']);
    expect(r.events[1]![1]).toBe('not-well-formed');
    expect(typeof r.events[1]![2]).toBe('string');
  });

  it('reports one error when the decoder and the parser would both object', () => {
    const r = recorder();
    r.parser.write(Buffer.concat([Buffer.from(HEAD + '<a>'), Buffer.from([0xff]), Buffer.from('<!-- x -->')]));
    expect(errors(r.events)).toHaveLength(1);
  });

  it('stays failed if a handler throws, and refuses reentrant writes', () => {
    const boom = new StreamParser({
      streamStart: () => {},
      stanza: () => {
        throw new Error('handler bug');
      },
      streamEnd: () => {},
      error: () => {},
    });
    expect(() => boom.write(HEAD + '<presence/>')).toThrow('handler bug');
    expect(() => boom.write('<presence/>')).not.toThrow();
    const reentrant: StreamParser = new StreamParser({
      streamStart: () => reentrant.write('<presence/>'),
      stanza: () => {},
      streamEnd: () => {},
      error: () => {},
    });
    expect(() => reentrant.write(HEAD)).toThrow(/handler/);
  });
});
