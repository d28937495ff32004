// The XEP-0114 handshake digest and its check, and what a component may put in from/to.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { handshakeDigest, handshakeMatches } from '../../../src/component/handshake.js';
import { fromProblem, toProblem } from '../../../src/component/addressing.js';

describe('handshake', () => {
  it('is hex SHA-1 of the stream id followed by the secret (XEP-0114 §3)', () => {
    // The example of XEP-0114 §3: stream id 3BF96D32, secret "secret".
    expect(handshakeDigest('3BF96D32', 'secret')).toBe(createHash('sha1').update('3BF96D32secret').digest('hex'));
    expect(handshakeDigest('3BF96D32', 'secret')).toMatch(/^[0-9a-f]{40}$/);
  });

  it('accepts the digest in either case and with surrounding whitespace', () => {
    const d = handshakeDigest('id1', 'pässwörd');
    expect(handshakeMatches(d, 'id1', 'pässwörd')).toBe(true);
    expect(handshakeMatches(` ${d.toUpperCase()}\n`, 'id1', 'pässwörd')).toBe(true);
  });

  it('refuses a wrong secret, another stream id, a truncated or empty digest', () => {
    const d = handshakeDigest('id1', 's');
    expect(handshakeMatches(d, 'id1', 't')).toBe(false);
    expect(handshakeMatches(d, 'id2', 's')).toBe(false);
    expect(handshakeMatches(d.slice(0, 39), 'id1', 's')).toBe(false);
    expect(handshakeMatches('', 'id1', 's')).toBe(false);
  });
});

describe('from and to of stanzas from a component', () => {
  it('accepts the domain itself and any JID at it', () => {
    for (const from of ['gw.example', 'user@gw.example', 'user@gw.example/res', 'GW.Example']) expect(fromProblem(from, 'gw.example')).toBeUndefined();
  });

  it('refuses a missing from, another domain, a subdomain, a parent and a malformed JID', () => {
    expect(fromProblem(undefined, 'gw.example')).toMatch(/must say who/);
    expect(fromProblem('user@example', 'gw.example')).toMatch(/example is not this component's domain/);
    expect(fromProblem('a.gw.example', 'gw.example')).toMatch(/not this component's domain/);
    expect(fromProblem('u@other.example', 'gw.example')).toMatch(/other\.example/);
    expect(fromProblem('@@', 'gw.example')).toMatch(/not a valid JID/);
  });

  it('needs a to address', () => {
    expect(toProblem(undefined)).toMatch(/'to' address/);
    expect(toProblem('user@example')).toBeUndefined();
  });
});
