// Stanza kinds and route labels as the metrics count them.
import { describe, expect, it } from 'vitest';
import { routeLabel, stanzaKind } from '../../../src/stream/tally.js';
import { x } from '../../../src/xml/element.js';

describe('stanzaKind', () => {
  it('names message, presence and iq, from an element or serialised text', () => {
    expect(stanzaKind(x('message', { to: 'a@b' }))).toBe('message');
    expect(stanzaKind(x('iq'))).toBe('iq');
    expect(stanzaKind("<presence from='a@b'/>")).toBe('presence');
    expect(stanzaKind('<presence/>')).toBe('presence');
    expect(stanzaKind('<iq type="get">')).toBe('iq');
    expect(stanzaKind('<message>')).toBe('message');
  });

  it('counts nothing else', () => {
    expect(stanzaKind(x('r', { xmlns: 'urn:xmpp:sm:3' }))).toBeUndefined();
    expect(stanzaKind('<iqx/>')).toBeUndefined();
    expect(stanzaKind("<db:result from='a'/>")).toBeUndefined();
    expect(stanzaKind("<?xml version='1.0'?><stream:stream>")).toBeUndefined();
  });
});

describe('routeLabel', () => {
  it('tells darknet_map entries from other SOCKS5 routes, and never names the domain', () => {
    expect(routeLabel({ kind: 'socks5', proxyHost: '127.0.0.1', proxyPort: 4447, host: 'x.b32.i2p', port: 5269, reason: 'mapped' })).toBe('darknet_map');
    expect(routeLabel({ kind: 'socks5', proxyHost: '127.0.0.1', proxyPort: 4447, host: 'x.b32.i2p', port: 5269, reason: 'i2p' })).toBe('socks5');
    expect(routeLabel({ kind: 'direct', domain: 'example.org' })).toBe('direct');
    expect(routeLabel({ kind: 'refused', reason: 'darknet_only' })).toBe('refused');
  });
});
