// Web clients at the protocol level (issue 14): the c2s session over WebSocket (RFC 7395) and
// BOSH (XEP-0206) on the HTTP service, with a plain `ws` client and raw BOSH POSTs. The same
// SASL, bind, routing and XEP-0198 as over TCP (a TCP user on the other side of each chat), and
// the limits: a frame over the stanza limit, a rid outside the window, too many requests, bodies
// over the limit, origins, subprotocols, the connection caps shared with TCP, inactivity.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testUsers } from '../helpers/contacts.js';
import { match, NS_SASL, NS_STREAMS, NS_STREAM_ERRORS, Wire } from '../helpers/wire.js';
import { BoshWire, boshPost, named, NS_FRAMING, WsWire } from '../helpers/web-wire.js';
import { httpCall } from '../helpers/http.js';

const PASS = 'web-pass';
const LIMIT = 16 * 1024;
const NS_SM = 'urn:xmpp:sm:3';
const MODULES = 'modules_enabled = { "roster", "disco", "ping", "smacks", "websocket", "bosh" }';
let ts: TestServer;
const { account, login, closeAll } = testUsers(() => ts, PASS);
const web: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  ts = await startTestServer({
    http: true,
    extra: [MODULES, `c2s_stanza_size_limit = ${LIMIT}`, 'smacks_hibernation_time = 30', 'bosh_max_inactivity = 5',
      'cross_domain_websocket = { "http://friend.b32.i2p" }', 'http_external_url = "http://clove.b32.i2p/"'].join('\n'),
  });
});
afterAll(async () => {
  await ts?.stop();
});
afterEach(async () => {
  await Promise.all(web.splice(0).map((c) => c.close()));
  await closeAll();
});

const ws = async (opts: Partial<Parameters<typeof WsWire.connect>[0]> = {}): Promise<WsWire> => {
  const c = await WsWire.connect({ port: ts.httpPort, ...opts });
  web.push(c);
  return c;
};
const bosh = (origin?: string): BoshWire => {
  const c = new BoshWire(ts.httpPort, 'localhost', origin);
  web.push(c);
  return c;
};
const chat = (to: string, body: string): string => `<message xmlns='jabber:client' to='${to}' type='chat'><body>${body}</body></message>`;
const body = (text: string) => match('message', {}, (m) => m.getChildText('body') === text);

describe('XMPP over WebSocket (RFC 7395)', () => {
  it('logs in with SASL and binds over the same c2s session code, and chats both ways with a TCP user', async () => {
    const name = await account('wsa');
    const c = await ws();
    const features = await c.open();
    // No STARTTLS over WebSocket; PLAIN is offered because consider_websocket_secure (default) vouches for the tunnel.
    expect(features.getChild('starttls')).toBeUndefined();
    expect(features.getChild('mechanisms', NS_SASL)?.getChildren('mechanism').map((m) => m.text())).toContain('PLAIN');
    expect(c.frames[0]).toMatch(/^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='[^']+' from='localhost' version='1.0' xml:lang='en'\/>$/);
    c.received.length = 0;
    c.inbox.length = 0;
    c.frames.length = 0;
    const jid = await c.login(name, PASS, 'browser');
    expect(jid).toBe(`${name}@localhost/browser`);
    // Every frame is one self-contained element: stanzas carry jabber:client, features declare the stream prefix.
    for (const f of c.frames) expect(f).toMatch(/^<(open|stream:features xmlns:stream=|success|iq xmlns='jabber:client')/);

    const tcp = await login(await account('tcpa'));
    c.send(chat(tcp.jid, 'hello from the web'));
    expect((await tcp.waitFor(body('hello from the web'))).attrs.from).toBe(jid);
    tcp.send(chat(jid, 'hello from tcp'));
    const got = await c.waitFor(body('hello from tcp'));
    expect(got.attrs.from).toBe(tcp.jid);
    expect(c.frames.at(-1)).toMatch(/^<message xmlns=["']jabber:client["']/);

    c.send(`<close xmlns='${NS_FRAMING}'/>`);
    await c.waitFor((e) => e.local === 'close' && e.xmlns === NS_FRAMING);
    expect(await c.closed()).toBe(1000);
  });

  it('resumes a session over a new WebSocket after the first one dropped (XEP-0198), losing nothing', async () => {
    const name = await account('wsm');
    const c = await ws();
    const jid = await c.login(name, PASS, 'phone');
    c.send(`<enable xmlns='${NS_SM}' resume='true'/>`);
    const enabled = await c.waitFor((e) => e.local === 'enabled');
    expect(enabled.attrs.resume).toBe('true');
    c.terminate(); // the tunnel drops: no <close/>
    await c.closed();

    const tcp = await login(await account('tcpm'));
    tcp.send(chat(jid, 'while you were away'));
    await new Promise((r) => setTimeout(r, 300));

    const again = await ws();
    await again.open();
    again.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from(`\0${name}\0${PASS}`).toString('base64')}</auth>`);
    await again.waitFor(named('success'));
    await again.open();
    again.send(`<resume xmlns='${NS_SM}' previd='${enabled.attrs.id}' h='0'/>`);
    expect((await again.waitFor((e) => e.local === 'resumed')).attrs.previd).toBe(enabled.attrs.id);
    expect((await again.waitFor(body('while you were away'))).attrs.from).toBe(tcp.jid);
  });

  it('refuses a frame larger than the stanza limit with a stream error and close, without reading it', async () => {
    const name = await account('wsbig');
    const c = await ws();
    await c.login(name, PASS);
    c.send(chat(`${name}@localhost`, 'x'.repeat(LIMIT + 10)));
    const error = await c.waitFor(named('stream:error'));
    expect(error.getChild('policy-violation', NS_STREAM_ERRORS)).toBeDefined();
    await c.waitFor((e) => e.local === 'close' && e.xmlns === NS_FRAMING);
    expect(await c.closed()).toBe(1009);
  });

  it('ends the stream on a frame that is not one complete element, and on a stanza before <open/>', async () => {
    const two = await ws();
    await two.open();
    two.send(`<presence xmlns='jabber:client'/><presence xmlns='jabber:client'/>`);
    expect((await two.waitFor(named('stream:error'))).getChild('bad-format', NS_STREAM_ERRORS)).toBeDefined();
    await two.closed();

    const early = await ws();
    early.send(`<presence xmlns='jabber:client'/>`);
    expect((await early.waitFor(named('stream:error'))).getChild('bad-format', NS_STREAM_ERRORS)).toBeDefined();
    await early.closed();
  });

  it('takes only the xmpp subprotocol and pages of its own origin or cross_domain_websocket', async () => {
    await expect(WsWire.connect({ port: ts.httpPort, protocols: ['chat'] })).rejects.toThrow('HTTP 400');
    await expect(WsWire.connect({ port: ts.httpPort, origin: 'http://evil.b32.i2p' })).rejects.toThrow('HTTP 403');
    await (await ws({ origin: 'http://clove.b32.i2p' })).open(); // http_external_url's origin
    await (await ws({ origin: 'http://friend.b32.i2p' })).open(); // listed
    await (await ws({ origin: 'http://localhost', host: 'localhost' })).open(); // the request's own Host
  });
});

describe('XMPP over BOSH (XEP-0206)', () => {
  it('creates a session, logs in, binds, and chats both ways with a TCP user; no XEP-0198 over BOSH', async () => {
    const name = await account('bosha');
    const c = bosh();
    const created = await c.create();
    expect(created.status).toBe(200);
    expect(created.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(created.body?.attrs).toMatchObject({ from: 'localhost', ver: '1.6', 'xmpp:version': '1.0', 'xmpp:restartlogic': 'true', requests: '2', hold: '1', inactivity: '5' });
    expect(c.sid).toMatch(/^[\w-]{20,}$/);
    const features = await c.waitFor(named('stream:features'));
    expect(features.getChild('starttls')).toBeUndefined();
    const jid = await c.login(name, PASS, 'bosh');
    expect(jid).toBe(`${name}@localhost/bosh`);
    const afterAuth = c.received.filter((e) => e.name === 'stream:features').at(-1);
    expect(afterAuth?.getChild('sm', NS_SM)).toBeUndefined();
    await c.post(`<enable xmlns='${NS_SM}'/>`);
    expect((await c.waitFor((e) => e.local === 'failed')).getChild('unexpected-request')).toBeDefined();

    const tcp = await login(await account('tcpb'));
    await c.post(chat(tcp.jid, 'hello over bosh'));
    expect((await tcp.waitFor(body('hello over bosh'))).attrs.from).toBe(jid);
    c.poll();
    tcp.send(chat(jid, 'pushed to a held request'));
    expect((await c.waitFor(body('pushed to a held request'))).attrs.from).toBe(tcp.jid);

    // A terminate request ends the session: the contact sees it go.
    c.stop();
    tcp.send(`<presence xmlns='jabber:client' type='subscribe' to='${name}@localhost'/>`);
    const last = await c.post('', { type: 'terminate' });
    expect(last.body?.attrs.type).toBe('terminate');
    const after = await boshPost(ts.httpPort, `<body xmlns='http://jabber.org/protocol/httpbind' sid='${c.sid}' rid='${c.rid}'/>`);
    expect(after.status).toBe(404);
    expect(after.body?.attrs).toMatchObject({ type: 'terminate', condition: 'item-not-found' });
  });

  it('ends a session on a rid outside the window, and on more requests than bosh_max_requests', async () => {
    const c = bosh();
    await c.create();
    c.rid += 5; // skips past the window of 2
    const bad = await c.post();
    expect(bad.status).toBe(404);
    expect(bad.body?.attrs).toMatchObject({ type: 'terminate', condition: 'item-not-found' });

    // Overactivity (XEP-0124 §11): one request held, one ahead of its turn, and one more.
    const d = bosh();
    await d.create();
    const n = d.rid;
    const raw = (rid: number) => boshPost(ts.httpPort, `<body xmlns='http://jabber.org/protocol/httpbind' sid='${d.sid}' rid='${rid}'/>`);
    const held = raw(n);
    await new Promise((r) => setTimeout(r, 200));
    const ahead = raw(n + 2);
    await new Promise((r) => setTimeout(r, 200));
    const over = await raw(n + 1);
    expect(over.body?.attrs).toMatchObject({ type: 'terminate', condition: 'policy-violation' });
    expect((await held).body?.attrs.type).toBe('terminate');
    expect((await ahead).body?.attrs.type).toBe('terminate');
  });

  it('refuses malformed and oversized bodies, unknown sids, and foreign origins', async () => {
    const malformed = await boshPost(ts.httpPort, `<body xmlns='http://jabber.org/protocol/httpbind' rid='1' to='localhost'><unclosed></body>`);
    expect(malformed.status).toBe(400);
    expect(malformed.body?.attrs.condition).toBe('bad-request');
    const wrongRoot = await boshPost(ts.httpPort, `<stream xmlns='jabber:client' rid='1'/>`);
    expect(wrongRoot.status).toBe(400);
    const noRid = await boshPost(ts.httpPort, `<body xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='5' hold='1'/>`);
    expect(noRid.status).toBe(400);
    const big = await boshPost(ts.httpPort, `<body xmlns='http://jabber.org/protocol/httpbind' rid='1' to='localhost'>${'<a/>'.repeat(LIMIT)}</body>`);
    expect(big.status).toBe(413);
    const unknown = await boshPost(ts.httpPort, `<body xmlns='http://jabber.org/protocol/httpbind' sid='nope' rid='5'/>`);
    expect(unknown.status).toBe(404);
    const foreign = await boshPost(ts.httpPort, `<body xmlns='http://jabber.org/protocol/httpbind' rid='1' to='localhost' wait='5' hold='1'/>`, { origin: 'http://evil.b32.i2p' });
    expect(foreign.status).toBe(403);
    const own = await httpCall(ts.httpPort, 'OPTIONS', '/http-bind', { headers: { Origin: 'http://clove.b32.i2p' } });
    expect(own.status).toBe(204);
    expect(own.headers['access-control-allow-origin']).toBe('http://clove.b32.i2p');
  });

  it('ends a session that holds no request for bosh_max_inactivity; the contact sees it go offline', async () => {
    const name = await account('boshidle');
    const c = bosh();
    const jid = await c.login(name, PASS, 'idle');
    const tcp = await login(await account('tcpidle'));
    // tcp watches the BOSH user by a directed presence exchange
    await c.post(`<presence xmlns='jabber:client' to='${tcp.jid}'/>`);
    await tcp.waitFor(match('presence', { from: jid }));
    const stopped = Date.now();
    const gone = await tcp.waitFor(match('presence', { from: jid, type: 'unavailable' }), 15_000);
    expect(gone).toBeDefined();
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(4000);
    const after = await c.post();
    expect(after.status).toBe(404);
  }, 20_000);
});

describe('web clients and the connection caps', () => {
  let capped: TestServer;
  afterAll(async () => { await capped?.stop(); });

  it('count against c2s_max_unauthenticated together with TCP clients', async () => {
    capped = await startTestServer({ http: true, extra: `${MODULES}\nc2s_max_unauthenticated = 2` });
    const a = await WsWire.connect({ port: capped.httpPort });
    web.push(a);
    const b = new BoshWire(capped.httpPort);
    web.push(b);
    await b.create();
    await expect(WsWire.connect({ port: capped.httpPort })).rejects.toThrow('HTTP 503');
    const refusedBosh = await boshPost(capped.httpPort, `<body xmlns='http://jabber.org/protocol/httpbind' rid='9' to='localhost' wait='5' hold='1'/>`);
    expect(refusedBosh.body?.attrs).toMatchObject({ type: 'terminate', condition: 'remote-stream-error' });
    expect(refusedBosh.text).toContain('resource-constraint');
    const tcp = await Wire.connect(capped.port);
    await tcp.write(`<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
    expect((await tcp.streamError()).condition).toBe('resource-constraint');
    tcp.destroy();
  });

  it('end a BOSH session whose client stops fetching once 2 MiB wait for it (resource-constraint)', async () => {
    const fast = await startTestServer({ http: true, extra: `${MODULES}\nlimits = { c2s = { rate = "100mb/s"; burst = "2s" } }` });
    try {
      await fast.addUser('reader', PASS);
      await fast.addUser('writer', PASS);
      const reader = new BoshWire(fast.httpPort);
      web.push(reader);
      const jid = await reader.login('reader', PASS, 'slow');
      const writer = await Wire.login({ port: fast.port, username: 'writer', password: PASS, resource: 'w' });
      const big = 'y'.repeat(15_000);
      for (let i = 0; i < 160; i++) writer.send(chat(jid, `${i} ${big}`)); // 2.4 MiB, and the reader sends no request
      await new Promise((r) => setTimeout(r, 1500));
      const last = await reader.post();
      expect(last.body?.attrs).toMatchObject({ type: 'terminate', condition: 'remote-stream-error' });
      expect(last.body?.getChild('error', NS_STREAMS)?.getChild('resource-constraint', NS_STREAM_ERRORS)).toBeDefined();
      expect(last.text.length).toBeLessThan(3 * 1024 * 1024);
      writer.destroy();
    } finally {
      await fast.stop();
    }
  });

  it('offer no SASL under c2s_require_encryption when consider_websocket_secure / consider_bosh_secure are off', async () => {
    const strict = await startTestServer({ http: true, extra: `${MODULES}\nconsider_websocket_secure = false\nconsider_bosh_secure = false` });
    try {
      const w = await WsWire.connect({ port: strict.httpPort });
      web.push(w);
      const wsFeatures = await w.open();
      expect(wsFeatures.getChild('mechanisms', NS_SASL)).toBeUndefined();
      expect(wsFeatures.getChild('starttls')).toBeUndefined(); // and no STARTTLS to fall back on
      w.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from('\0a\0b').toString('base64')}</auth>`);
      expect((await w.waitFor((e) => e.xmlns === NS_SASL)).getChild('encryption-required')).toBeDefined();
      const b = new BoshWire(strict.httpPort);
      web.push(b);
      await b.create();
      expect(b.received.find((e) => e.name === 'stream:features')?.getChild('mechanisms', NS_SASL)).toBeUndefined();
    } finally {
      await Promise.all(web.splice(0).map((c) => c.close()));
      await strict.stop();
    }
  });

  it('are not served on a server whose hosts load neither module', async () => {
    const plain = await startTestServer({ http: true, extra: 'modules_enabled = { "roster" }' });
    try {
      expect(plain.httpPort).toBe(0); // nothing served: the HTTP listener stays closed
    } finally {
      await plain.stop();
    }
  });
});
