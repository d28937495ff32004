import { describe, expect, it } from 'vitest';
import { Jid, JidError, parseJid, prepDomain, prepLocal, prepResource, tryParseJid } from '../../../src/jid/jid.js';

describe('parseJid', () => {
  it('splits local, domain and resource', () => {
    const j = parseJid('juliet@example.com/balcony');
    expect(j.local).toBe('juliet');
    expect(j.domain).toBe('example.com');
    expect(j.resource).toBe('balcony');
    expect(j.toString()).toBe('juliet@example.com/balcony');
    expect(j.bareString()).toBe('juliet@example.com');
    expect(j.isBare()).toBe(false);
  });

  it('handles domain-only, domain/resource and bare forms', () => {
    expect(parseJid('example.com').toString()).toBe('example.com');
    expect(parseJid('example.com').local).toBe('');
    expect(parseJid('example.com').resource).toBe('');
    const dr = parseJid('example.com/foo');
    expect([dr.local, dr.domain, dr.resource]).toEqual(['', 'example.com', 'foo']);
    expect(parseJid('a@b').isBare()).toBe(true);
  });

  it('follows RFC 7622 §3.1: the resource starts at the first slash and may hold @ and /', () => {
    const j = parseJid('juliet@example.com/foo@bar/baz');
    expect(j.resource).toBe('foo@bar/baz');
    const k = parseJid('example.com/juliet@example.net');
    expect(k.local).toBe('');
    expect(k.domain).toBe('example.com');
    expect(k.resource).toBe('juliet@example.net');
  });

  it('keeps spaces and case in resources', () => {
    expect(parseJid('a@b/Home Laptop').resource).toBe('Home Laptop');
    expect(parseJid('a@b/foo\u00A0bar').resource).toBe('foo bar');
  });

  it('lowercases localpart and domainpart', () => {
    const j = parseJid('Juliet@Example.COM/Balcony');
    expect(j.toString()).toBe('juliet@example.com/Balcony');
    expect(j.equals(parseJid('juliet@example.com/Balcony'))).toBe(true);
    expect(j.equals(parseJid('juliet@example.com/balcony'))).toBe(false);
    // Unicode toLowerCase() applies the final-sigma rule.
    expect(parseJid('ΣΑΣ@x').local).toBe('σας');
    expect(parseJid('ΣΑΣ@x').equals(parseJid('σας@x'))).toBe(true);
  });

  it('maps fullwidth characters in the localpart and the domain', () => {
    expect(parseJid('\uFF4A\uFF55\uFF4C\uFF49\uFF45\uFF54@example.com').local).toBe('juliet');
    expect(parseJid('\uFF2A\uFF35\uFF2C@example.com').local).toBe('jul');
    expect(parseJid('a@\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45\uFF0E\uFF43\uFF4F\uFF4D').domain).toBe('example.com');
    expect(parseJid('a@example\u3002com').domain).toBe('example.com');
  });

  it('treats composed and decomposed forms as equal (NFC)', () => {
    const composed = parseJid('caf\u00E9@example.com/r\u00E9sum\u00E9');
    const decomposed = parseJid('cafe\u0301@example.com/re\u0301sume\u0301');
    expect(composed.equals(decomposed)).toBe(true);
    expect(decomposed.local).toBe('caf\u00E9');
    expect(decomposed.resource).toBe('r\u00E9sum\u00E9');
    expect(parseJid('a@e\u0301.example').domain).toBe('\u00E9.example');
  });

  it('accepts internationalized names, IP literals and a trailing dot', () => {
    expect(parseJid('пример@пример.рф').toString()).toBe('пример@пример.рф');
    expect(parseJid('user@Bücher.example').domain).toBe('bücher.example');
    expect(parseJid('a@127.0.0.1').domain).toBe('127.0.0.1');
    expect(parseJid('a@[::1]/r').domain).toBe('[::1]');
    expect(parseJid('a@[2001:DB8::1]').domain).toBe('[2001:db8::1]');
    expect(parseJid('a@example.com.').domain).toBe('example.com');
    expect(parseJid('a@xmpp_server.example').domain).toBe('xmpp_server.example');
    const b32 = 'ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p';
    expect(parseJid(`alice@${b32}/pidgin`).domain).toBe(b32);
  });

  it('accepts parts of exactly 1023 bytes', () => {
    expect(parseJid(`${'a'.repeat(1023)}@x`).local).toHaveLength(1023);
    expect(parseJid(`x/${'r'.repeat(1023)}`).resource).toHaveLength(1023);
  });

  const invalid: Array<[string, string]> = [
    ['', 'empty string'],
    ['@example.com', 'empty localpart'],
    ['a@', 'empty domain'],
    ['a@/r', 'empty domain with resource'],
    ['a@example.com/', 'empty resource'],
    ['/r', 'only a resource'],
    ['a@b@example.com', '@ in domain'],
    ['a"b@example.com', 'quote in localpart'],
    ['a&b@example.com', '& in localpart'],
    ["a'b@example.com", "' in localpart"],
    ['a:b@example.com', ': in localpart'],
    ['a<b@example.com', '< in localpart'],
    ['a>b@example.com', '> in localpart'],
    ['a b@example.com', 'space in localpart'],
    ['a\u00A0b@example.com', 'no-break space in localpart'],
    ['a\u3000b@example.com', 'ideographic space in localpart'],
    ['a\tb@example.com', 'tab in localpart'],
    ['a\u0000b@example.com', 'NUL in localpart'],
    ['a\u200Db@example.com', 'zero width joiner in localpart'],
    ['a\u2665b@example.com', 'symbol in localpart'],
    ['\uFB01@example.com', 'compatibility ligature in localpart'],
    ['\u2163@example.com', 'roman numeral in localpart'],
    ['a\uE000@example.com', 'private use in localpart'],
    ['a\uD800@example.com', 'lone surrogate in localpart'],
    [`${'a'.repeat(1024)}@example.com`, 'localpart too long'],
    [`${'é'.repeat(512)}@example.com`, 'localpart too long in bytes'],
    ['a@exa mple.com', 'space in domain'],
    ['a@example..com', 'empty label'],
    ['a@.example.com', 'leading dot'],
    ['a@example.com..', 'two trailing dots'],
    ['a@.', 'only a dot'],
    ['a@-example.com', 'label starting with a hyphen'],
    ['a@example-.com', 'label ending with a hyphen'],
    ['a@exa\u0000mple.com', 'control in domain'],
    ['a@exa\\mple.com', 'backslash in domain'],
    ['a@exa:mple.com', 'colon in domain'],
    ['a@example.com:5222', 'port in domain'],
    ['a@exa\u2665mple.com', 'symbol in domain'],
    [`a@${'l'.repeat(64)}.com`, 'label longer than 63'],
    [`a@${'abcdefg.'.repeat(128)}com`, 'domain longer than 1023'],
    ['a@[::1', 'unterminated IP literal'],
    ['a@[example.com]', 'bracketed name'],
    ['a@[fe80::1%eth0]', 'zone identifier'],
    ['a@example.com/a\u0007b', 'control in resource'],
    ['a@example.com/a\u0000b', 'NUL in resource'],
    ['a@example.com/a\uDC00', 'lone surrogate in resource'],
    ['a@example.com/\u0378', 'unassigned code point in resource'],
    [`a@example.com/${'r'.repeat(1024)}`, 'resource too long'],
  ];
  it.each(invalid.map(([s, why]) => [why, s] as const))('rejects %s', (_why, s) => {
    expect(() => parseJid(s)).toThrow(JidError);
    expect(tryParseJid(s)).toBeNull();
  });

  it('caches results', () => {
    const a = parseJid('Romeo@Example.net/Orchard');
    expect(parseJid('Romeo@Example.net/Orchard')).toBe(a);
    expect(a.toString()).toBe('romeo@example.net/Orchard');
    // A failing input fails every time (failures are not cached as successes).
    expect(() => parseJid('a b@c')).toThrow(JidError);
    expect(() => parseJid('a b@c')).toThrow(JidError);
  });

  it('survives more distinct addresses than the cache holds', () => {
    for (let i = 0; i < 5000; i++) expect(parseJid(`User${i}@Host${i % 7}/R`).local).toBe(`user${i}`);
    expect(parseJid('User1@Host1/R').toString()).toBe('user1@host1/R');
  });
});

describe('Jid', () => {
  it('bare() drops the resource and returns itself when already bare', () => {
    const j = parseJid('a@b/c');
    expect(j.bare().toString()).toBe('a@b');
    expect(j.bare().isBare()).toBe(true);
    const bare = parseJid('a@b');
    expect(bare.bare()).toBe(bare);
  });

  it('withResource() prepares the new resource', () => {
    const j = parseJid('a@b/c');
    expect(j.withResource('d\u00A0e').toString()).toBe('a@b/d e');
    expect(j.withResource('').toString()).toBe('a@b');
    expect(() => j.withResource('x\u0001')).toThrow(JidError);
  });

  it('Jid.of() prepares parts', () => {
    expect(Jid.of('Alice', 'EXAMPLE.com', 'Phone').toString()).toBe('alice@example.com/Phone');
    expect(Jid.of('', 'example.com').toString()).toBe('example.com');
    expect(() => Jid.of('a b', 'example.com')).toThrow(JidError);
  });

  it('equals() compares all three parts', () => {
    expect(parseJid('a@b/c').equals(parseJid('A@B/c'))).toBe(true);
    expect(parseJid('a@b/c').equals(parseJid('a@b'))).toBe(false);
    expect(parseJid('a@b').equals(parseJid('b'))).toBe(false);
    expect(parseJid('b/a').equals(parseJid('a@b'))).toBe(false);
  });
});

describe('prep functions', () => {
  it('prepLocal case-maps, width-maps and normalises', () => {
    expect(prepLocal('Alice')).toBe('alice');
    expect(prepLocal('\uFF21lice')).toBe('alice');
    expect(prepLocal('A\u030A')).toBe('\u00E5');
    expect(prepLocal('alice')).toBe(prepLocal(prepLocal('ALICE')));
    expect(() => prepLocal('')).toThrow(JidError);
    expect(() => prepLocal('a/b')).toThrow(JidError);
    expect(() => prepLocal('a@b')).toThrow(JidError);
  });

  it('prepDomain lowercases and strips one trailing dot', () => {
    expect(prepDomain('LocalHost')).toBe('localhost');
    expect(prepDomain('example.com.')).toBe('example.com');
    expect(() => prepDomain('')).toThrow(JidError);
    expect(() => prepDomain('a/b')).toThrow(JidError);
    expect(() => prepDomain('a@b')).toThrow(JidError);
    expect(() => prepDomain('a b')).toThrow(JidError);
  });

  it('prepResource keeps case and symbols, maps non-ASCII spaces', () => {
    expect(prepResource('Gajim ❤️')).toBe('Gajim ❤️');
    expect(prepResource('a\u2003b')).toBe('a b');
    expect(prepResource('a/b@c')).toBe('a/b@c');
    expect(() => prepResource('')).toThrow(JidError);
    expect(() => prepResource('\n')).toThrow(JidError);
  });
});
