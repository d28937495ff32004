// Hostile and broken input on client streams: each case gets the RFC 6120 answer, and a second
// client logged in on the same server keeps working afterwards (its ping is answered in < 1 s).
// The hostile side uses test/helpers/wire.ts (raw bytes, independent sax parsing); the
// well-behaved bystander is an ordinary Wire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { NS_SASL, NS_STREAM_ERRORS, NS_TLS, Wire, header, match, mechanismsOf, ping, stanzaErrorCondition, type El } from '../helpers/wire.js';

let server: TestServer;
let other: Wire;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

beforeAll(async () => {
  // darknet_only: a clearnet domain is refused at once, with no DNS look-up (docs/architecture.md).
  server = await startTestServer({ extra: 'darknet_only = true' });
  await server.addUser('alice', 'alice-pass');
  await server.addUser('bob', 'bob-pass');
  await server.addUser('flood', 'flood-pass');
  other = await Wire.login({ port: server.port, username: 'bob', password: 'bob-pass', resource: 'bystander' });
});

afterAll(async () => {
  await other?.close();
  await server?.stop();
});

/**
 * The bystander still works: a ping with no `to` is answered within a second. It received no
 * message meanwhile (replies come in order, so anything routed to it came before the pong).
 */
async function bystanderWorks(c: Wire = other, opts: { messages?: boolean } = {}): Promise<void> {
  const t0 = performance.now();
  const pong = await c.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`, 1000);
  expect(pong.attrs.type, pong.toString()).toBe('result');
  expect(performance.now() - t0).toBeLessThan(1000);
  if (!opts.messages) await c.expectNothing(match('message'), 0);
}

/** Assert the stream ended with exactly this stream error, then `</stream:stream>`, then a close. */
async function expectStreamError(w: Wire, condition: string): Promise<El> {
  const { condition: got, el } = await w.streamError();
  expect(got, `stream error: ${el.toString()}`).toBe(condition);
  const conds = el.getChildren().filter((c) => c.xmlns === NS_STREAM_ERRORS);
  // One defined condition, optionally a <text/> (RFC 6120 §4.9.2).
  expect(conds.filter((c) => c.name !== 'text').map((c) => c.name)).toEqual([condition]);
  await w.streamClosed();
  // Nothing after the stream error: it is the last element of the stream.
  expect(w.received[w.received.length - 1]).toBe(el);
  expect(w.text.trimEnd().endsWith('</stream:stream>')).toBe(true);
  return el;
}

/** Open a plain stream and read the pre-TLS features. */
async function openPlain(to = 'localhost'): Promise<{ w: Wire; features: El }> {
  const w = await Wire.connect(server.port);
  await w.write(header(to));
  const features = await w.next((e) => e.name === 'stream:features', 'features');
  return { w, features };
}

/** STARTTLS on an open plain stream, then the post-TLS features. */
async function upgrade(w: Wire): Promise<El> {
  await w.write(`<starttls xmlns='${NS_TLS}'/>`);
  const proceed = await w.nextAny('proceed');
  expect(proceed.name).toBe('proceed');
  await w.upgradeTls();
  await w.write(header());
  return w.next((e) => e.name === 'stream:features', 'post-TLS features');
}

describe('malformed XML', () => {
  it('not-well-formed XML is a <not-well-formed/> stream error and the socket closes', async () => {
    const w = await Wire.login({ port: server.port, username: 'alice', password: 'alice-pass', resource: 'nwf' });
    await w.write('<message><body>x</message>');
    await expectStreamError(w, 'not-well-formed');
    await bystanderWorks();
  });

  it('a stream error from the client is not answered with one (RFC 6120 §4.9.1.1): the stream just closes', async () => {
    const w = await Wire.login({ port: server.port, username: 'alice', password: 'alice-pass', resource: 'se' });
    const before = w.received.length;
    await w.write(`<stream:error><undefined-condition xmlns='${NS_STREAM_ERRORS}'/></stream:error>`);
    await w.streamClosed();
    expect(w.received.slice(before).filter((e) => e.name === 'error')).toEqual([]);
    expect(w.text.trimEnd().endsWith('</stream:stream>')).toBe(true);
    await bystanderWorks();
  });

  it('a DOCTYPE with entity declarations (billion laughs) is <restricted-xml/>', async () => {
    const w = await Wire.connect(server.port);
    const lol = ['<!ENTITY lol "lol">'];
    for (let i = 1; i <= 9; i++) lol.push(`<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`);
    await w.write(`<?xml version='1.0'?><!DOCTYPE lolz [${lol.join('')}]>${header()}<message to='bob@localhost'><body>&lol9;</body></message>`);
    await expectStreamError(w, 'restricted-xml');
    await bystanderWorks();
  });

  // RFC 6120 §11.1: comments, processing instructions and entity references beyond the five
  // predefined ones are restricted XML.
  it.each([
    ['a comment', `<message to='bob@localhost/bystander' type='chat'><!-- hi --><body>x</body></message>`],
    ['a processing instruction', `<?foo bar?><message to='bob@localhost/bystander' type='chat'><body>x</body></message>`],
    ['an undeclared entity reference', `<message to='bob@localhost/bystander' type='chat'><body>&lol;</body></message>`],
  ])('%s in a stanza is <restricted-xml/>', async (_what, xml) => {
    const w = await Wire.login({ port: server.port, username: 'alice', password: 'alice-pass', resource: 'restricted' });
    await w.write(xml);
    await expectStreamError(w, 'restricted-xml');
    await bystanderWorks();
  });

  it('a DOCTYPE inside an authenticated stream is refused too', async () => {
    const w = await Wire.login({ port: server.port, username: 'alice', password: 'alice-pass', resource: 'dtd' });
    await w.write(`<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><message to='${other.jid}'><body>&a;</body></message>`);
    const { condition } = await w.streamError();
    expect(['restricted-xml', 'not-well-formed']).toContain(condition);
    await w.streamClosed();
    await bystanderWorks();
  });
});

describe('stream header', () => {
  it('a wrong default namespace is <invalid-namespace/>', async () => {
    const w = await Wire.connect(server.port);
    await w.write(`<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
    const h = await w.streamHeader(1);
    expect(h['xmlns:stream']).toBe('http://etherx.jabber.org/streams');
    await expectStreamError(w, 'invalid-namespace');
    await bystanderWorks();
  });

  it('a wrong streams namespace is <invalid-namespace/>', async () => {
    const w = await Wire.connect(server.port);
    await w.write(`<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://example.com/streams' version='1.0'>`);
    await expectStreamError(w, 'invalid-namespace');
    await bystanderWorks();
  });

  it('a stream to a host this server does not serve is <host-unknown/>', async () => {
    const w = await Wire.connect(server.port);
    await w.write(header('unknown.example'));
    const h = await w.streamHeader(1);
    // RFC 6120 §4.9.1.2: the error stream's header must not claim the unknown host.
    expect(h.from).not.toBe('unknown.example');
    await expectStreamError(w, 'host-unknown');
    await bystanderWorks();
  });
});

describe('authentication', () => {
  it('a stanza before authentication is <not-authorized/> and goes nowhere', async () => {
    const { w } = await openPlain();
    await w.write(`<message to='${other.jid}' type='chat'><body>sneaky</body></message>`);
    await expectStreamError(w, 'not-authorized');
    await bystanderWorks();
  });

  it('SASL before TLS is <encryption-required/>; no mechanisms are offered before TLS', async () => {
    const { w, features } = await openPlain();
    expect(features.getChild('starttls', NS_TLS)?.getChild('required', NS_TLS)).toBeDefined();
    expect(features.getChild('mechanisms', NS_SASL)).toBeUndefined();
    await w.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64('\0alice\0alice-pass')}</auth>`);
    const failure = await w.nextAny('SASL failure');
    expect(failure.name).toBe('failure');
    expect(failure.xmlns).toBe(NS_SASL);
    expect(failure.getChildren().filter((c) => c.name !== 'text').map((c) => c.name)).toEqual(['encryption-required']);
    // The stream stays usable: STARTTLS still works, then PLAIN is offered.
    const after = await upgrade(w);
    expect(mechanismsOf(after)).toContain('PLAIN');
    w.destroy();
    await bystanderWorks();
  });

  it('a wrong password is <not-authorized/> (PLAIN), and the right one then succeeds', async () => {
    const { w } = await openPlain();
    await upgrade(w);
    await w.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64('\0alice\0not-the-password')}</auth>`);
    const failure = await w.nextAny('SASL failure');
    expect(failure.name).toBe('failure');
    expect(failure.xmlns).toBe(NS_SASL);
    expect(failure.getChildren().filter((c) => c.name !== 'text').map((c) => c.name)).toEqual(['not-authorized']);
    // An unknown user looks exactly the same (no account enumeration).
    await w.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64('\0nosuchuser\0whatever')}</auth>`);
    const failure2 = await w.nextAny('SASL failure for an unknown user');
    expect(failure2.getChildren().filter((c) => c.name !== 'text').map((c) => c.name)).toEqual(['not-authorized']);
    await w.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64('\0alice\0alice-pass')}</auth>`);
    expect((await w.nextAny('SASL success')).name).toBe('success');
    w.destroy();
    await bystanderWorks();
  });
});

describe('addressing', () => {
  it('a spoofed from (another user) is <invalid-from/> and the victim receives nothing', async () => {
    const w = await Wire.login({ port: server.port, username: 'alice', password: 'alice-pass', resource: 'spoof' });
    await w.write(`<message from='${other.jid}' to='${other.jid}' type='chat' id='spoof1'><body>I am bob</body></message>`);
    await expectStreamError(w, 'invalid-from');
    await bystanderWorks();
  });

  it("a from naming another resource of one's own account is <invalid-from/> too", async () => {
    const w = await Wire.login({ port: server.port, username: 'alice', password: 'alice-pass', resource: 'spoof2' });
    await w.write(`<message from='alice@localhost/some-other-resource' to='${other.jid}' type='chat'><body>x</body></message>`);
    await expectStreamError(w, 'invalid-from');
    await bystanderWorks();
  });

  it('an iq nobody handles is <service-unavailable/> with the payload returned', async () => {
    const w = await Wire.login({ port: server.port, username: 'alice', password: 'alice-pass', resource: 'unknown-iq' });
    const reply = await w.iq(`<iq type='get' id='u1' to='localhost'><foo xmlns='urn:example:unknown'/></iq>`);
    expect(reply.attrs).toEqual({ type: 'error', id: 'u1', from: 'localhost', to: w.jid });
    expect(stanzaErrorCondition(reply)).toBe('service-unavailable');
    expect(reply.getChild('error')!.attrs.type).toBe('cancel');
    expect(reply.getChild('foo', 'urn:example:unknown')).toBeDefined();
    // The same with no `to` (the account itself answers, RFC 6120 §10.3.3).
    const r2 = await w.iq(`<iq type='get' id='u2'><foo xmlns='urn:example:unknown'/></iq>`);
    expect(r2.attrs.type).toBe('error');
    expect(stanzaErrorCondition(r2)).toBe('service-unavailable');
    // A set, too.
    const r3 = await w.iq(`<iq type='set' id='u3' to='localhost'><foo xmlns='urn:example:unknown'/></iq>`);
    expect(stanzaErrorCondition(r3)).toBe('service-unavailable');
    w.destroy();
    await bystanderWorks();
  });

  it('an iq to an unknown full JID is <service-unavailable/> from that JID', async () => {
    const w = await Wire.login({ port: server.port, username: 'alice', password: 'alice-pass', resource: 'unknown-full' });
    // An existing account, a resource that is not online (RFC 6121 §8.5.3.2.1).
    const r1 = await w.iq(`<iq type='get' id='f1' to='bob@localhost/not-online'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(r1.attrs).toEqual({ type: 'error', id: 'f1', from: 'bob@localhost/not-online', to: w.jid });
    expect(stanzaErrorCondition(r1)).toBe('service-unavailable');
    // No such account at all (RFC 6121 §8.5.2.2.3 / §8.5.3.2.3).
    const r2 = await w.iq(`<iq type='get' id='f2' to='nobody@localhost/x'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(r2.attrs).toEqual({ type: 'error', id: 'f2', from: 'nobody@localhost/x', to: w.jid });
    expect(stanzaErrorCondition(r2)).toBe('service-unavailable');
    w.destroy();
    await bystanderWorks();
  });

  it('a message to a clearnet domain under darknet_only is <remote-server-not-found/> with the reason', async () => {
    const w = await Wire.login({ port: server.port, username: 'alice', password: 'alice-pass', resource: 'remote' });
    await w.write(`<message to='someone@remote.example' type='chat' id='m1'><body>hello?</body></message>`);
    const err = await w.next((e) => e.name === 'message', 'message error');
    expect(err.attrs).toEqual({ type: 'error', id: 'm1', from: 'someone@remote.example', to: w.jid });
    expect(stanzaErrorCondition(err)).toBe('remote-server-not-found');
    expect(err.getChild('error')!.attrs.type).toBe('cancel');
    expect(err.getChild('error')!.getChildText('text')).toMatch(/darknet_only/);
    w.destroy();
    await bystanderWorks();
  });
});

describe('flooding', () => {
  it('10,000 pings sent without reading: all answered in order, and the server stays responsive', async () => {
    const N = 10_000;
    const w = await Wire.login({ port: server.port, username: 'flood', password: 'flood-pass', resource: 'flood' });
    const start = w.received.length;
    w.pause(); // read nothing while flooding
    let batch = '';
    for (let i = 0; i < N; i++) batch += `<iq type='get' id='p${i}'><ping xmlns='urn:xmpp:ping'/></iq>`;
    w.push(batch);
    // Meanwhile the bystander is answered within a second, repeatedly.
    for (let k = 0; k < 5; k++) await bystanderWorks();
    w.resume();
    await w.until(() => w.received.length - start >= N || undefined, `${N} ping results`, 20_000);
    const got = w.received.slice(start, start + N);
    expect(got.length).toBe(N);
    const bad = got.findIndex((e, i) => e.name !== 'iq' || e.attrs.id !== `p${i}` || e.attrs.type !== 'result');
    expect(bad, bad >= 0 ? `element ${bad}: ${got[bad]!.toString()}` : '').toBe(-1);
    expect((await ping(w)).attrs.type).toBe('result');
    w.destroy();
    await bystanderWorks();
  }, 40_000);
});

describe('size limits (child server, so its RSS can be measured)', () => {
  let child: ChildServer;
  let bob: Wire;

  beforeAll(async () => {
    // These tests are about the stanza size limit, not the read rate (`limits`, see
    // attack-rate-limit.test.ts): the server reads as fast as the client writes. V8's young
    // generation stays at its start size: left to grow (to 16 MiB by default) it shows in RSS
    // while megabytes stream through, which is not input being buffered.
    child = await startChild({ extra: 'limits = { c2s = { rate = "1gb/s" } }\ngc_young_generation_max = 2 * 1024 * 1024' });
    await addUsers(child.configPath, [['big@localhost', 'big-pass'], ['bob@localhost', 'bob-pass']]);
    bob = await Wire.login({ port: child.port, username: 'bob', password: 'bob-pass', resource: 'bystander' });
  });

  afterAll(async () => {
    await bob?.close();
    if (child) {
      await child.kill('SIGTERM');
      await removeChildDir(child.dir);
    }
  });

  it('an 8 MiB stanza is <policy-violation/>; the stream closes before 8 MiB is accepted; RSS stays flat', async () => {
    // 8 MiB sent against a 4 MiB threshold: a server that buffered the stanza grows by at least
    // 8 MiB, while allocator noise on a loaded machine (2.5 MB was seen) stays well below 4 MiB.
    const TOTAL = 8 * 1024 * 1024;
    const CHUNK = Buffer.alloc(64 * 1024, 'a');
    const w = await Wire.login({ port: child.port, username: 'big', password: 'big-pass', resource: 'big' });
    const baseline = await child.rss();
    let peak = baseline;
    await w.write(`<message to='${bob.jid}' type='chat'><body>`);
    let sent = 0;
    let sentAtError = -1;
    while (sent < TOTAL) {
      if (w.received.some((e) => e.name === 'stream:error') || w.gotEnd || w.isClosed) {
        sentAtError = sent;
        break;
      }
      try {
        await w.write(CHUNK);
      } catch {
        sentAtError = sent;
        break; // the server closed the socket under us: also a close before 2 MiB
      }
      sent += CHUNK.length;
      peak = Math.max(peak, await child.rss());
    }
    expect(sentAtError, `the server accepted all ${sent} bytes without closing`).toBeGreaterThan(0);
    expect(sentAtError).toBeLessThan(TOTAL);
    const { condition } = await w.streamError();
    expect(condition).toBe('policy-violation');
    await w.streamClosed();
    peak = Math.max(peak, await child.rss());
    // Prosody's limit is 256 KiB; the server must not have buffered the whole stanza.
    expect(peak - baseline, `RSS grew from ${baseline} to ${peak}`).toBeLessThan(TOTAL / 2);
    await bystanderWorks(bob);
  });

  it('a stanza just under the limit (250 KiB) is delivered', async () => {
    const w = await Wire.login({ port: child.port, username: 'big', password: 'big-pass', resource: 'big2' });
    const body = 'b'.repeat(250 * 1024);
    await w.write(`<message to='${bob.jid}' type='chat' id='big-ok'><body>${body}</body></message>`);
    const got = await bob.waitFor(match('message', { id: 'big-ok' }));
    expect(got.getChildText('body')).toBe(body);
    expect(got.attrs.from).toBe(w.jid);
    w.destroy();
  });
});
