// The parser's flow control and per-stanza accounting: hold()/resume() stop and restart it at
// stanza boundaries without losing or reordering input, each stanza comes with its size in
// bytes, and the element count per stanza is capped.
import { describe, it, expect } from 'vitest';
import { StreamParser, type ParserLimits } from '../../../src/xml/parser.js';

const HEAD = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

function make(limits?: Partial<ParserLimits>): { parser: StreamParser; got: string[]; sizes: number[]; errors: string[] } {
  const got: string[] = [];
  const sizes: number[] = [];
  const errors: string[] = [];
  const parser = new StreamParser({
    streamStart: () => {},
    stanza: (el, bytes) => { got.push(el.attrs.id ?? el.name); sizes.push(bytes); },
    streamEnd: () => got.push('END'),
    error: (condition, text) => errors.push(`${condition}: ${text}`),
  }, limits);
  return { parser, got, sizes, errors };
}

describe('StreamParser flow control', () => {
  it('hold() stops after the current stanza; input waits until resume()', () => {
    const p = make();
    p.parser.write(HEAD);
    p.parser.hold();
    p.parser.write(`<m id='1'/><m id='2'/><m id='3'><b>x</b></m>`);
    expect(p.got).toEqual(['1']);
    expect(p.parser.held).toBe(true);
    p.parser.write(`<m id='4'/></stream:stream>`);
    expect(p.got).toEqual(['1']);
    p.parser.resume();
    expect(p.got).toEqual(['1', '2', '3', '4', 'END']);
    expect(p.parser.held).toBe(false);
  });

  it('a hold requested from the stanza handler and lifted in it does not stop the parser', () => {
    const got: string[] = [];
    const parser: StreamParser = new StreamParser({
      streamStart: () => {},
      stanza: (el) => { got.push(el.attrs.id!); parser.hold(); if (el.attrs.id !== '2') parser.resume(); },
      streamEnd: () => {},
      error: () => {},
    });
    parser.write(HEAD + `<m id='1'/><m id='2'/><m id='3'/>`);
    expect(got).toEqual(['1', '2']);
    parser.resume();
    expect(got).toEqual(['1', '2', '3']);
  });

  it('holds after a stanza whose close tag was cut by a chunk boundary', () => {
    const p = make();
    p.parser.write(HEAD + `<m id='1'><b>x</b></`);
    p.parser.hold();
    p.parser.write(`m><m id='2'/>`);
    expect(p.got).toEqual(['1']);
    p.parser.resume();
    expect(p.got).toEqual(['1', '2']);
  });

  it('reports each stanza size in bytes (UTF-8), however the input is cut', () => {
    const stanza = `<message id='é'><body>héllo wörld</body></message>`;
    const whole = make();
    whole.parser.write(HEAD + stanza + `<p id='x'/>`);
    expect(whole.sizes).toEqual([Buffer.byteLength(stanza), 11]);
    const bytes = make();
    for (const b of Buffer.from(HEAD + stanza)) bytes.parser.write(Buffer.from([b]));
    expect(bytes.sizes).toEqual([Buffer.byteLength(stanza)]);
  });

  it('refuses a stanza with more than maxElements elements (itself included)', () => {
    const ok = make({ maxElements: 10 });
    ok.parser.write(HEAD + `<m id='ok'>${'<a/>'.repeat(9)}</m>`);
    expect(ok.got).toEqual(['ok']);
    const bad = make({ maxElements: 10 });
    bad.parser.write(HEAD + `<m id='bad'>${'<a/>'.repeat(10)}</m>`);
    expect(bad.got).toEqual([]);
    expect(bad.errors).toEqual(['policy-violation: more than 10 elements in one stanza']);
  });

  it('counts elements per stanza, not per stream', () => {
    const p = make({ maxElements: 3 });
    p.parser.write(HEAD + `<m id='1'><a/><b/></m>`.repeat(50));
    expect(p.got.length).toBe(50);
    expect(p.errors).toEqual([]);
  });
});
