// Router behaviour as XML in, XML out, with no sockets: fake sessions record what they receive.
import { describe, it, expect, beforeEach } from 'vitest';
import type { Router } from '../../../src/core/router.js';
import type { Host } from '../../../src/core/host.js';
import type { SessionTable } from '../../../src/core/sessions.js';
import { x } from '../../../src/xml/element.js';
import { StanzaError, StreamError } from '../../../src/core/errors.js';
import { hostWorld, type FakeSession } from '../../helpers/host-world.js';
import message from '../../../src/modules/message.js';
import ping from '../../../src/modules/ping.js';

let router: Router;
let sessions: SessionTable;
let host: Host;
let bind: (jid: string) => FakeSession;

beforeEach(async () => {
  const w = hostWorld();
  ({ router, sessions, host, bind } = w);
  await host.load([message, ping], new Map());
  await w.accounts.create('alice', 'pw');
  await w.accounts.create('bob', 'pw');
});

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('Router', () => {
  it('stamps from with the full JID and delivers a message to a full JID', async () => {
    const a = bind('alice@localhost/pc');
    const b = bind('bob@localhost/phone');
    await router.fromClient(a, x('message', { to: 'bob@localhost/phone', type: 'chat' }, x('body', null, 'hi')));
    expect(b.got.map(String)).toEqual(['<message to="bob@localhost/phone" type="chat" from="alice@localhost/pc"><body>hi</body></message>']);
  });

  it('refuses a spoofed from with an invalid-from stream error, and accepts the own bare JID', () => {
    const a = bind('alice@localhost/pc');
    expect(() => router.fromClient(a, x('message', { from: 'bob@localhost/x', to: 'bob@localhost' }))).toThrow(StreamError);
    try { router.fromClient(a, x('message', { from: 'bob@localhost', to: 'bob@localhost' })); } catch (e) { expect((e as StreamError).condition).toBe('invalid-from'); }
    expect(() => router.fromClient(a, x('message', { from: 'alice@localhost', to: 'alice@localhost/pc', type: 'headline' }))).not.toThrow();
  });

  it('answers an iq nobody handles with service-unavailable, keeping id and payload', async () => {
    const a = bind('alice@localhost/pc');
    await router.fromClient(a, x('iq', { type: 'get', id: 'q1', to: 'localhost' }, x('foo', { xmlns: 'urn:example' })));
    expect(a.got.map(String)).toEqual([
      '<iq type="error" id="q1" to="alice@localhost/pc" from="localhost"><foo xmlns="urn:example"/><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>',
    ]);
  });

  it('answers a ping to the host, to the own bare JID and with no to', async () => {
    const a = bind('alice@localhost/pc');
    for (const to of ['localhost', 'alice@localhost', undefined]) {
      await router.fromClient(a, x('iq', { type: 'get', id: 'p', ...(to ? { to } : {}) }, x('ping', { xmlns: 'urn:xmpp:ping' })));
    }
    expect(a.got.map((e) => `${e.attrs.type}:${e.attrs.from ?? ''}`)).toEqual(['result:localhost', 'result:alice@localhost', 'result:']);
  });

  it('bounces a message to a domain it does not serve with remote-server-not-found', async () => {
    const a = bind('alice@localhost/pc');
    await router.fromClient(a, x('message', { to: 'carol@elsewhere.example', id: 'm1' }, x('body', null, 'x')));
    expect(a.got).toHaveLength(1);
    expect(a.got[0]!.attrs.type).toBe('error');
    expect(a.got[0]!.getChild('error')!.getChild('remote-server-not-found')).toBeDefined();
  });

  it('answers a malformed to with jid-malformed', async () => {
    const a = bind('alice@localhost/pc');
    await router.fromClient(a, x('message', { to: 'a@b@c', id: 'm1' }));
    expect(a.got[0]?.getChild('error')?.getChild('jid-malformed')).toBeDefined();
  });

  it('falls back from a missing full JID to the bare JID for chat; a stranger learns nothing when it is not delivered', async () => {
    const a = bind('alice@localhost/pc');
    const b = bind('bob@localhost/phone');
    await router.fromClient(a, x('message', { to: 'bob@localhost/gone', type: 'chat' }, x('body', null, 'x')));
    expect(b.got).toHaveLength(1);
    sessions.remove(b);
    const before = a.got.length;
    await router.fromClient(a, x('message', { to: 'bob@localhost', type: 'chat', id: 'z' }, x('body', null, 'x')));
    await settle();
    // alice is a stranger to bob: she learns nothing about his being offline.
    expect(a.got.slice(before).filter((s) => s.getChild('error'))).toEqual([]);
  });

  it('delivers an iq to a full JID and bounces one to an unknown resource', async () => {
    const a = bind('alice@localhost/pc');
    const b = bind('bob@localhost/phone');
    await router.fromClient(a, x('iq', { type: 'get', id: 'v', to: 'bob@localhost/phone' }, x('query', { xmlns: 'jabber:iq:version' })));
    expect(b.got).toHaveLength(1);
    await router.fromClient(a, x('iq', { type: 'get', id: 'w', to: 'bob@localhost/nope' }, x('query', { xmlns: 'jabber:iq:version' })));
    expect(a.got.at(-1)?.getChild('error')?.getChild('service-unavailable')).toBeDefined();
  });

  it('turns a StanzaError thrown by an iq handler into the error reply', async () => {
    host.router.hookIq(host, 'get', 'host', 'urn:t', 'q', () => { throw new StanzaError('forbidden', 'no'); });
    const a = bind('alice@localhost/pc');
    await router.fromClient(a, x('iq', { type: 'get', id: 'f', to: 'localhost' }, x('q', { xmlns: 'urn:t' })));
    const err = a.got[0]!.getChild('error')!;
    expect(err.attrs.type).toBe('auth');
    expect(err.getChild('forbidden')).toBeDefined();
    expect(err.getChildText('text')).toBe('no');
  });

  it('rejects an iq get with two payloads with bad-request', async () => {
    const a = bind('alice@localhost/pc');
    await router.fromClient(a, x('iq', { type: 'get', id: 'b', to: 'localhost' }, x('ping', { xmlns: 'urn:xmpp:ping' }), x('ping', { xmlns: 'urn:xmpp:ping' })));
    expect(a.got[0]?.getChild('error')?.getChild('bad-request')).toBeDefined();
  });
});

describe('Router with a throwing handler', () => {
  it('turns a synchronous StanzaError from a stanza handler into an error reply, not a stream error', async () => {
    const a = bind('alice@localhost/pc');
    await router.fromClient(a, x('message', { to: 'bob@localhost/nowhere', type: 'groupchat', id: 'g1' }, x('body', null, 'x')));
    await settle();
    expect(a.got.at(-1)?.attrs.type).toBe('error');
    expect(a.got.at(-1)?.getChild('error')?.getChild('service-unavailable')).toBeDefined();
  });
});
