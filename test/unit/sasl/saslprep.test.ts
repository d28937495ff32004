import { describe, expect, it } from 'vitest';
import { PasswordError, saslPrep } from '../../../src/sasl/saslprep.js';

describe('SASLprep (RFC 4013)', () => {
  it('gives the results of RFC 4013 §3', () => {
    expect(saslPrep('I\u00ADX')).toBe('IX'); // soft hyphen mapped to nothing
    expect(saslPrep('user')).toBe('user');
    expect(saslPrep('USER')).toBe('USER'); // no case mapping
    expect(saslPrep('\u00AA')).toBe('a'); // NFKC
    expect(saslPrep('\u2168')).toBe('IX');
    expect(() => saslPrep('\u0007')).toThrow(PasswordError); // prohibited
    expect(() => saslPrep('\u0627\u0031')).toThrow(PasswordError); // bidi: must end with RandALCat
  });

  it('maps non-ASCII spaces to SPACE and B.1 characters to nothing', () => {
    expect(saslPrep('a\u00A0b\u3000c\u2003d')).toBe('a b c d');
    expect(saslPrep('a\u200Db\uFE0Fc\u2060d')).toBe('abcd');
  });

  it('normalises with NFKC (what SCRAM clients and Prosody derive keys from)', () => {
    expect(saslPrep('e\u0301')).toBe('\u00E9');
    expect(saslPrep('\uFB01x')).toBe('fix'); // ligature
    expect(saslPrep('\uFF21\uFF22')).toBe('AB'); // fullwidth
  });

  it.each([
    ['C.2.1 ASCII control', 'a\u0000b'],
    ['C.2.2 non-ASCII control', 'a\u0085b'],
    ['C.2.2 line separator', 'a\u2028b'],
    ['C.2.2 musical symbol format', 'a\u{1D173}b'],
    ['C.3 private use', 'a\uE000b'],
    ['C.3 supplementary private use', 'a\u{F0000}b'],
    ['C.4 non-character', 'a\uFDD0b'],
    ['C.4 plane-end non-character', 'a\u{2FFFE}b'],
    ['C.5 lone surrogate', 'a\uD800b'],
    ['C.6 replacement character', 'a\uFFFDb'],
    ['C.7 ideographic description', 'a\u2FF0b'],
    ['C.8 left-to-right mark', 'a\u200Eb'],
    ['C.8 right-to-left override', 'a\u202Eb'],
    ['C.9 tag', 'a\u{E0041}b'],
  ])('prohibits %s', (_what, s) => {
    expect(() => saslPrep(s)).toThrow(PasswordError);
  });

  it('applies the bidi rule of RFC 3454 §6', () => {
    expect(saslPrep('\u05D0\u05D1\u05D2')).toBe('\u05D0\u05D1\u05D2'); // all Hebrew
    expect(saslPrep('\u0627 1 \u0628')).toBe('\u0627 1 \u0628'); // RTL at both ends, digits inside
    expect(() => saslPrep('\u05D0abc\u05D1')).toThrow(/mixes/); // RandALCat with LCat
    expect(() => saslPrep('1\u05D0')).toThrow(/start and end/);
    expect(saslPrep('abc 123 ü')).toBe('abc 123 ü'); // no RTL: no rule
  });

  it('refuses unassigned code points in stored strings only (§2.5)', () => {
    expect(() => saslPrep('a\u0378', { stored: true })).toThrow(/unassigned/);
    expect(saslPrep('a\u0378')).toBe('a\u0378');
  });

  it('passes emoji and other assigned symbols', () => {
    expect(saslPrep('🔑 pässwörd', { stored: true })).toBe('🔑 pässwörd');
  });
});
