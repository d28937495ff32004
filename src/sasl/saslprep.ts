// SASLprep: the stringprep profile for user names and passwords in SASL, which SCRAM's
// Normalize() names and which Prosody (libidn) applies, so stored SCRAM keys match clients'.
// References: RFC 4013 (SASLprep), RFC 3454 (stringprep: tables B.1, C.1.2–C.9, D.1, D.2, §6
// bidi), RFC 5802 §2.2 (SCRAM Normalize), RFC 8265 §4.2 (OpaqueString, its successor).
//
// Steps (RFC 4013 §2): map non-ASCII spaces to U+0020 and "commonly mapped to nothing"
// characters to nothing; NFKC; refuse prohibited output (C.1.2–C.9); the bidi rule (RFC 3454
// §6); unassigned code points refused in stored strings (a password being set) and allowed in
// queries (a password being checked), as §2.5 says.
//
// Like src/jid/precis.ts, this uses the JavaScript engine's Unicode tables, not Unicode 3.2's:
// "unassigned" is \p{Cn} of the engine's Unicode version (so a password with an emoji newer
// than 2002 can be set), and the bidi categories, which JavaScript regexps do not expose, are
// approximated by script and general category: RandALCat = letters of the right-to-left
// scripts plus the R/AL punctuation RFC 3454 D.1 lists; LCat = the other letters and spacing
// marks. NFKC (not OpaqueString's NFC) is kept on purpose: keys derived under NFKC by Prosody
// and by clients must keep matching.

/** Thrown for strings SASLprep refuses. */
export class PasswordError extends Error {
  override name = 'PasswordError';
}

// RFC 3454 C.1.2, mapped to SPACE (RFC 4013 §2.1).
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
// RFC 3454 B.1, mapped to nothing.
const MAP_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;

// RFC 3454 C.1.2 (after mapping only NFKC could bring one back), C.2.1 and C.2.2 (controls),
// C.3 (private use), C.4 (non-characters), C.5 (surrogates), C.6 (inappropriate for plain
// text), C.7 (ideographic description), C.8 (display-changing and deprecated), C.9 (tags).
const PROHIBITED = new RegExp(
  '[' +
    '\\u00A0\\u1680\\u2000-\\u200B\\u202F\\u205F\\u3000' + // C.1.2
    '\\u0000-\\u001F\\u007F' + // C.2.1
    '\\u0080-\\u009F\\u06DD\\u070F\\u180E\\u200C\\u200D\\u2028\\u2029\\u2060-\\u2063\\u206A-\\u206F\\uFEFF\\uFFF9-\\uFFFC\\u{1D173}-\\u{1D17A}' + // C.2.2
    '\\uE000-\\uF8FF\\u{F0000}-\\u{FFFFD}\\u{100000}-\\u{10FFFD}' + // C.3
    '\\uFDD0-\\uFDEF\\uFFFE\\uFFFF\\u{1FFFE}\\u{1FFFF}\\u{2FFFE}\\u{2FFFF}\\u{3FFFE}\\u{3FFFF}\\u{4FFFE}\\u{4FFFF}' +
    '\\u{5FFFE}\\u{5FFFF}\\u{6FFFE}\\u{6FFFF}\\u{7FFFE}\\u{7FFFF}\\u{8FFFE}\\u{8FFFF}\\u{9FFFE}\\u{9FFFF}\\u{AFFFE}\\u{AFFFF}' +
    '\\u{BFFFE}\\u{BFFFF}\\u{CFFFE}\\u{CFFFF}\\u{DFFFE}\\u{DFFFF}\\u{EFFFE}\\u{EFFFF}\\u{FFFFE}\\u{FFFFF}\\u{10FFFE}\\u{10FFFF}' + // C.4
    '\\p{Cs}' + // C.5 (lone surrogates; paired ones are code points above U+FFFF)
    '\\uFFF9-\\uFFFD' + // C.6
    '\\u2FF0-\\u2FFB' + // C.7
    '\\u0340\\u0341\\u200E\\u200F\\u202A-\\u202E' + // C.8
    '\\u{E0001}\\u{E0020}-\\u{E007F}' + // C.9
    ']',
  'u',
);

const UNASSIGNED = /\p{Cn}/u;

const RTL_SCRIPTS =
  '\\p{Script=Hebrew}\\p{Script=Arabic}\\p{Script=Syriac}\\p{Script=Thaana}\\p{Script=Nko}\\p{Script=Samaritan}' +
  '\\p{Script=Mandaic}\\p{Script=Adlam}\\p{Script=Hanifi_Rohingya}\\p{Script=Mende_Kikakui}\\p{Script=Imperial_Aramaic}' +
  '\\p{Script=Phoenician}\\p{Script=Kharoshthi}\\p{Script=Old_South_Arabian}\\p{Script=Avestan}\\p{Script=Nabataean}' +
  '\\p{Script=Palmyrene}\\p{Script=Manichaean}\\p{Script=Psalter_Pahlavi}\\p{Script=Inscriptional_Pahlavi}' +
  '\\p{Script=Inscriptional_Parthian}\\p{Script=Lydian}\\p{Script=Cypriot}\\p{Script=Old_North_Arabian}\\p{Script=Hatran}' +
  '\\p{Script=Old_Hungarian}\\p{Script=Sogdian}\\p{Script=Old_Sogdian}\\p{Script=Elymaic}\\p{Script=Chorasmian}\\p{Script=Yezidi}';
/** Right-to-left letters (bidi R or AL), and the R/AL punctuation of RFC 3454 D.1. */
const RAND_AL = new RegExp(`(?=[${RTL_SCRIPTS}])\\p{L}|[\\u05BE\\u05C0\\u05C3\\u05C6\\u05F3\\u05F4\\u061B\\u061F\\u066D\\u06D4\\u200F]`, 'u');
/** Left-to-right letters and spacing marks (bidi L). */
const L_CAT = new RegExp(`(?![${RTL_SCRIPTS}])[\\p{L}\\p{Mc}]`, 'u');

export interface SaslPrepOptions {
  /** A string being stored (a new password): unassigned code points are refused too. */
  stored?: boolean;
}

/** SASLprep (RFC 4013) `s`; throws PasswordError for strings the profile prohibits. */
export function saslPrep(s: string, opts: SaslPrepOptions = {}): string {
  // The common case: printable ASCII passes every step unchanged.
  if (/^[\x20-\x7E]*$/.test(s)) return s;
  const out = s.replace(NON_ASCII_SPACE, ' ').replace(MAP_TO_NOTHING, '').normalize('NFKC');
  const bad = PROHIBITED.exec(out);
  if (bad) throw new PasswordError(`password contains a prohibited character (U+${hex(bad[0])})`);
  if (opts.stored) {
    const un = UNASSIGNED.exec(out);
    if (un) throw new PasswordError(`password contains an unassigned code point (U+${hex(un[0])})`);
  }
  checkBidi(out);
  return out;
}

/** RFC 3454 §6: with any right-to-left character, no left-to-right one, and RTL at both ends. */
function checkBidi(s: string): void {
  if (!RAND_AL.test(s)) return;
  if (L_CAT.test(s)) throw new PasswordError('password mixes right-to-left and left-to-right characters');
  const chars = [...s];
  if (!RAND_AL.test(chars[0] as string) || !RAND_AL.test(chars[chars.length - 1] as string)) {
    throw new PasswordError('password has right-to-left characters but does not start and end with one');
  }
}

function hex(c: string): string {
  return c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
}
