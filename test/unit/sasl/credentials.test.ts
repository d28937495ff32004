import { describe, expect, it } from 'vitest';
import { deriveScram, PasswordError, saslPrep, verifyScramPassword } from '../../../src/sasl/credentials.js';

describe('saslPrep', () => {
  it('maps non-ASCII spaces to SPACE and soft hyphens to nothing', () => {
    expect(saslPrep('a\u00A0b\u3000c')).toBe('a b c');
    expect(saslPrep('I\u00ADX')).toBe('IX');
  });
  it('applies NFKC (RFC 4013 §3 examples)', () => {
    expect(saslPrep('user')).toBe('user');
    expect(saslPrep('USER')).toBe('USER');
    expect(saslPrep('\u00AA')).toBe('a');
    expect(saslPrep('\u2168')).toBe('IX');
    expect(saslPrep('e\u0301')).toBe('\u00E9');
  });
  it('rejects control characters', () => {
    expect(() => saslPrep('a\u0007')).toThrow(PasswordError);
    expect(() => saslPrep('a\u0000')).toThrow(PasswordError);
  });
});

describe('deriveScram', () => {
  it('uses 10000 iterations (Prosody 0.12) and a 16-byte random salt by default', async () => {
    const a = await deriveScram('pencil', 'sha1');
    const b = await deriveScram('pencil', 'sha1');
    expect(a.iterations).toBe(10000);
    expect(Buffer.from(a.salt, 'base64')).toHaveLength(16);
    expect(a.salt).not.toBe(b.salt);
    expect(Buffer.from(a.storedKey, 'base64')).toHaveLength(20);
    expect(Buffer.from((await deriveScram('pencil', 'sha256')).serverKey, 'base64')).toHaveLength(32);
  });

  it('is deterministic for a given salt and iteration count', async () => {
    const salt = Buffer.from('QSXCR+Q6sek8bf92', 'base64');
    const a = await deriveScram('pencil', 'sha1', 4096, salt);
    expect(a).toEqual(await deriveScram('pencil', 'sha1', 4096, salt));
    expect(a.salt).toBe('QSXCR+Q6sek8bf92');
  });

  it('verifies the password it was derived from, and only that', async () => {
    const c = await deriveScram('\u2168 secret', 'sha256', 1000);
    expect(await verifyScramPassword(c, saslPrep('IX secret'), 'sha256')).toBe(true);
    expect(await verifyScramPassword(c, saslPrep('IX secreT'), 'sha256')).toBe(false);
  });

  it('rejects bad iteration counts', async () => {
    await expect(deriveScram('x', 'sha1', 0)).rejects.toThrow(RangeError);
  });
});
