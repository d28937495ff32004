// Pidgin 2.14 (libpurple's jabber prpl) logging in, replayed byte for byte over a raw socket.
// What Pidgin sends, and what it requires of the replies, is taken from libpurple 2.x:
// jabber.c (stream header, STARTTLS, bind, legacy session iq), auth_scram.c (SCRAM-SHA-1, its
// first choice), disco.c (disco#items + disco#info to the domain, then vCard, roster, ad-hoc,
// blocklist), roster.c (CONNECTED only once the roster reply arrives, then initial presence),
// ping.c (keepalive ping with no `to`) and iq.c (does_reply_from_match_request_to: an iq reply
// whose `from` does not match the request's `to` is dropped, and the login stalls).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { El, NS_BIND, NS_SASL, NS_STANZAS, NS_STREAMS, NS_STREAM_ERRORS, NS_TLS, ScramSha1Client, Wire, match, mechanismsOf, ping, stanzaErrorCondition, xmlEscape } from '../helpers/wire.js';

const USER = 'pidgin';
const PASSWORD = 'pürple pass'; // non-ASCII on purpose: SCRAM must use the UTF-8 bytes
const RESOURCE = 'Home';
const NS_SM = 'urn:xmpp:sm:3';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const NS_ROSTER = 'jabber:iq:roster';
const NS_COMMANDS = 'http://jabber.org/protocol/commands';
const NS_BLOCKING = 'urn:xmpp:blocking';

let server: TestServer;
let domain: string;

beforeAll(async () => {
  server = await startTestServer();
  domain = server.domain;
  await server.addUser(USER, PASSWORD);
  await server.addUser('buddy', 'buddy-pass');
});

afterAll(async () => {
  await server?.stop();
});

/** libpurple's iq ids: "purple" + a hex counter starting at a random 32-bit value. */
class PurpleIds {
  private n = (Math.random() * 0xffffffff) >>> 0;
  next(): string {
    return `purple${(this.n++ >>> 0).toString(16)}`;
  }
}

interface Jid { node?: string; domain: string; resource?: string }
function parseJid(s: string | undefined): Jid | undefined {
  if (s === undefined) return undefined;
  const slash = s.indexOf('/');
  const bare = slash < 0 ? s : s.slice(0, slash);
  const resource = slash < 0 ? undefined : s.slice(slash + 1);
  const at = bare.indexOf('@');
  return { node: at < 0 ? undefined : bare.slice(0, at), domain: at < 0 ? bare : bare.slice(at + 1), resource };
}
const jidEqual = (a: Jid | undefined, b: Jid | undefined): boolean =>
  (!a && !b) || (!!a && !!b && a.node === b.node && a.domain === b.domain && a.resource === b.resource);

/** libpurple iq.c does_reply_from_match_request_to(): Pidgin drops replies that fail it. */
function pidginAcceptsReply(requestTo: string | undefined, replyFrom: string | undefined, me: Jid): boolean {
  const to = parseJid(requestTo);
  const from = parseJid(replyFrom);
  if (jidEqual(to, from)) return true;
  if (!to && from && from.domain === me.domain) {
    if (!from.node && !from.resource) return true;
    if (from.node === me.node && (!from.resource || from.resource === me.resource)) return true;
  }
  return false;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/** Exact element children of an element, as "name ns" strings, for shape assertions. */
const shape = (el: El): string[] => el.getChildren().map((c) => `${c.name} ${c.xmlns ?? ''}`);

/** Connect and run Pidgin's opening up to the post-TLS features; returns them. */
async function pidginOpen(w: Wire): Promise<El> {
  // jabber_login_callback: the XML declaration alone, then jabber_stream_init's header.
  await w.write(`<?xml version='1.0' ?>`);
  await w.write(`<stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
  const h1 = await w.streamHeader(1);
  // Pidgin needs version='1.0' (else it falls back to jabber:iq:auth) and reads the id.
  expect(h1).toMatchObject({ 'xmlns:stream': NS_STREAMS, xmlns: 'jabber:client', from: domain, version: '1.0' });
  expect(h1.id).toMatch(/^\S{8,}$/);
  const f1 = await w.nextAny('pre-TLS features');
  expect(f1.name).toBe('stream:features');
  expect(f1.xmlns).toBe(NS_STREAMS);
  // STARTTLS offered and required; no SASL before TLS (c2s_require_encryption defaults on).
  expect(shape(f1)).toEqual([`starttls ${NS_TLS}`]);
  expect(shape(f1.getChild('starttls', NS_TLS)!)).toEqual([`required ${NS_TLS}`]);

  // jabber_process_starttls
  await w.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
  const proceed = await w.nextAny('<proceed/>');
  expect(proceed.toString()).toBe(`<proceed xmlns="${NS_TLS}"/>`);
  await w.upgradeTls(domain);
  // After TLS, jabber_stream_init again: the header without the XML declaration.
  await w.write(`<stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
  const h2 = await w.streamHeader(2);
  expect(h2).toMatchObject({ 'xmlns:stream': NS_STREAMS, xmlns: 'jabber:client', from: domain, version: '1.0' });
  expect(h2.id).not.toBe(h1.id);
  const f2 = await w.nextAny('post-TLS features');
  expect(f2.name).toBe('stream:features');
  expect(f2.getChild('starttls', NS_TLS)).toBeUndefined();
  return f2;
}

/** Pidgin's SCRAM-SHA-1 exchange (auth_scram.c), then the stream restart; returns the features. */
async function pidginScram(w: Wire, features: El, password = PASSWORD): Promise<El> {
  const mechs = mechanismsOf(features);
  // libpurple's preference: SCRAM-SHA-1 (it has no SCRAM-SHA-256), then DIGEST-MD5, then PLAIN.
  expect(mechs).toContain('SCRAM-SHA-1');
  const scram = new ScramSha1Client(USER, password);
  await w.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${b64(scram.first())}</auth>`);
  const challenge = await w.nextAny('SCRAM challenge');
  expect(challenge.name).toBe('challenge');
  expect(challenge.xmlns).toBe(NS_SASL);
  const serverFirst = unb64(challenge.text());
  expect(serverFirst).toMatch(/^r=[^,]+,s=[A-Za-z0-9+/]+=*,i=\d+$/);
  await w.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${b64(scram.final(serverFirst))}</response>`);
  const success = await w.nextAny('SASL success');
  expect(success.name).toBe('success');
  expect(success.xmlns).toBe(NS_SASL);
  // libpurple checks the server signature carried in <success/> and fails the login without it.
  expect(scram.verify(unb64(success.text()))).toBe(true);
  // js->reinit: a new stream right after <success/>.
  await w.write(`<stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
  const h3 = await w.streamHeader(3);
  expect(h3).toMatchObject({ 'xmlns:stream': NS_STREAMS, xmlns: 'jabber:client', from: domain, version: '1.0' });
  const f3 = await w.nextAny('post-SASL features');
  expect(f3.name).toBe('stream:features');
  // jabber_stream_features_parse checks <mechanisms> first, then <bind>: bind must be there.
  expect(f3.getChild('mechanisms', NS_SASL)).toBeUndefined();
  expect(f3.getChild('bind', NS_BIND)).toBeDefined();
  return f3;
}

interface LoginTrace { jid: string; info: El; connected: boolean }

/**
 * Pidgin from bind to "connected". With `sm`, the XEP-0198 <enable/> (and <r/>) Pidgin sends
 * when the server offers stream management, whether or not it was offered.
 */
async function pidginSession(w: Wire, ids: PurpleIds, opts: { sm?: boolean } = {}): Promise<LoginTrace> {
  const me: Jid = { node: USER, domain, resource: RESOURCE };

  // jabber_stream_features_parse → bind with the account's resource.
  const bindId = ids.next();
  await w.write(`<iq type='set' id='${bindId}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${RESOURCE}</resource></bind></iq>`);
  const bound = await w.nextAny('bind result');
  expect(bound.name).toBe('iq');
  expect(bound.attrs.type).toBe('result');
  expect(bound.attrs.id).toBe(bindId);
  expect(pidginAcceptsReply(undefined, bound.attrs.from, me)).toBe(true);
  expect(shape(bound)).toEqual([`bind ${NS_BIND}`]);
  const jid = bound.getChild('bind', NS_BIND)!.getChildText('jid');
  expect(jid).toBe(`${USER}@${domain}/${RESOURCE}`);

  // With sm enabled, the server may ask for acks (<r/>) at any point; Pidgin answers them with
  // the count of stanzas it got. `next` is nextAny that does that and skips sm elements.
  let smEnabled = false;
  let handled = 0;
  const next = async (what: string): Promise<El> => {
    for (;;) {
      const el = await w.nextAny(what);
      if (el.xmlns === NS_SM) {
        if (el.name === 'r') await w.write(`<a xmlns='urn:xmpp:sm:3' h='${handled}'/>`);
        continue;
      }
      if (smEnabled) handled++;
      return el;
    }
  };

  if (opts.sm) {
    // Pidgin asks for no resumption: <enabled/> carries no id.
    await w.write(`<enable xmlns='urn:xmpp:sm:3'/>`);
    const enabled = await w.nextAny('sm <enabled/>');
    expect(enabled.name).toBe('enabled');
    expect(enabled.xmlns).toBe(NS_SM);
    expect(enabled.attrs.id).toBeUndefined();
    smEnabled = true;
  }

  // jabber_session_init: always sent; any error fails the login ("Error initializing session").
  const sessionId = ids.next();
  await w.write(`<iq type='set' id='${sessionId}'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
  if (opts.sm) await w.write(`<r xmlns='urn:xmpp:sm:3'/>`);
  const session = await next('session result');
  expect(session.name).toBe('iq');
  expect(session.attrs).toMatchObject({ type: 'result', id: sessionId });
  expect(pidginAcceptsReply(undefined, session.attrs.from, me)).toBe(true);
  if (session.attrs.to !== undefined) expect(session.attrs.to).toBe(jid);
  if (opts.sm) {
    // The <r/> after the session iq: one stanza (that iq) handled since <enable/>.
    const a = await w.nextAny('sm <a/>');
    expect(a.name).toBe('a');
    expect(a.xmlns).toBe(NS_SM);
    expect(a.attrs.h).toBe('1');
  }

  // jabber_session_initialized_cb → jabber_disco_items_server: items then info, back to back.
  const itemsId = ids.next();
  const infoId = ids.next();
  await w.write(`<iq type='get' id='${itemsId}' to='${domain}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
  await w.write(`<iq type='get' id='${infoId}' to='${domain}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
  const items = await next('disco#items result');
  expect(items.attrs).toMatchObject({ type: 'result', id: itemsId, from: domain, to: jid });
  expect(shape(items)).toEqual([`query ${NS_DISCO_ITEMS}`]);
  for (const item of items.getChild('query')!.getChildren()) {
    expect(item.name).toBe('item');
    expect(item.attrs.jid).toBeTruthy();
  }
  const info = await next('disco#info result');
  // jabber_disco_server_info_result_cb ignores the reply unless `from` is exactly the domain.
  expect(info.attrs).toMatchObject({ type: 'result', id: infoId, from: domain, to: jid });
  expect(shape(info)).toEqual([`query ${NS_DISCO_INFO}`]);
  const q = info.getChild('query', NS_DISCO_INFO)!;
  const identities = q.getChildren('identity').map((i) => `${i.attrs.category}/${i.attrs.type}`);
  expect(identities).toContain('server/im');
  const features = q.getChildren('feature').map((f) => f.attrs.var);
  expect(features).toEqual(expect.arrayContaining([NS_DISCO_INFO, NS_DISCO_ITEMS, 'urn:xmpp:ping', 'vcard-temp']));
  expect(new Set(features).size).toBe(features.length);

  // jabber_disco_finish_server_info_result_cb: vCard (no `to`), roster, then ad-hoc and
  // blocklist only when advertised.
  const vcardId = ids.next();
  const rosterId = ids.next();
  await w.write(`<iq type='get' id='${vcardId}'><vCard xmlns='vcard-temp'/></iq>`);
  await w.write(`<iq type='get' id='${rosterId}'><query xmlns='jabber:iq:roster'/></iq>`);
  const adhocId = features.includes(NS_COMMANDS) ? ids.next() : undefined;
  if (adhocId) await w.write(`<iq type='get' id='${adhocId}' to='${domain}'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>`);
  const blockId = features.includes(NS_BLOCKING) ? ids.next() : undefined;
  if (blockId) await w.write(`<iq type='get' id='${blockId}'><blocklist xmlns='urn:xmpp:blocking'/></iq>`);

  const vcard = await next('vCard reply');
  expect(vcard.name).toBe('iq');
  expect(vcard.attrs.id).toBe(vcardId);
  expect(pidginAcceptsReply(undefined, vcard.attrs.from, me)).toBe(true);
  if (vcard.attrs.type === 'error') {
    expect(stanzaErrorCondition(vcard)).toBe('item-not-found');
    expect(vcard.getChild('error')!.attrs.type).toBe('cancel');
  } else {
    expect(vcard.attrs.type).toBe('result');
    expect(shape(vcard)).toEqual(['vCard vcard-temp']);
  }

  const roster = await next('roster reply');
  expect(roster.attrs.id).toBe(rosterId);
  expect(pidginAcceptsReply(undefined, roster.attrs.from, me)).toBe(true);
  // Pidgin shows the account as connected when this reply arrives; a real roster it needs.
  expect(roster.attrs.type, `roster reply: ${roster.toString()}`).toBe('result');
  expect(shape(roster)).toEqual([`query ${NS_ROSTER}`]);
  const connected = true;

  if (adhocId) {
    const adhoc = await next('ad-hoc list');
    expect(adhoc.attrs).toMatchObject({ type: 'result', id: adhocId, from: domain });
  }
  if (blockId) {
    const block = await next('blocklist');
    expect(block.attrs).toMatchObject({ type: 'result', id: blockId });
  }

  // JABBER_STREAM_CONNECTED → jabber_presence_send: initial presence with caps and avatar hash.
  await w.write(`<presence><priority>1</priority><c xmlns='http://jabber.org/protocol/caps' node='http://pidgin.im/' hash='sha-1' ver='lV6i//bt2U8Rm0REcX8h4F3Nk3M='/><x xmlns='vcard-temp:x:update'><photo/></x></presence>`);
  // A whitespace keepalive (jabber_send_raw(js, "\t")) then the keepalive ping with no `to`.
  await w.write('\t');
  const pingId = ids.next();
  await w.write(`<iq type='get' id='${pingId}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  const pong = await w.next((e) => e.name === 'iq' && e.attrs.id === pingId, 'ping result');
  expect(pong.attrs.type).toBe('result');
  expect(pidginAcceptsReply(undefined, pong.attrs.from, me)).toBe(true);
  expect(pong.getChildren()).toEqual([]);
  // Between the roster reply and the pong only our own presence may come back (RFC 6121 §4.2.2),
  // and PEP's question about the caps in it (XEP-0115 §6.2: disco#info of node#ver, from the
  // account's bare JID), which Pidgin answers from its own caps table (jabber_disco_info_parse).
  const capsQuery = (e: El): boolean => e.name === 'iq' && e.attrs.type === 'get' && e.attrs.from === `${USER}@${domain}`
    && e.getChild('query', NS_DISCO_INFO)?.attrs.node === 'http://pidgin.im/#lV6i//bt2U8Rm0REcX8h4F3Nk3M=';
  const between = w.received
    .slice(w.received.indexOf(roster) + 1, w.received.indexOf(pong))
    .filter((e) => e.xmlns !== NS_SM && !capsQuery(e) && !(e.name === 'iq' && (e.attrs.id === adhocId || e.attrs.id === blockId)));
  for (const el of between) {
    expect(el.name, el.toString()).toBe('presence');
    expect(el.attrs.type).toBeUndefined();
    expect(el.attrs.from).toBe(jid);
  }
  return { jid: jid!, info, connected };
}

describe('Pidgin 2.14 login, byte for byte', () => {
  it('STARTTLS, SCRAM-SHA-1, bind, session, disco, vCard, roster, presence, ping, logout', async () => {
    const w = await Wire.connect(server.port);
    const ids = new PurpleIds();
    const features = await pidginOpen(w);
    await pidginScram(w, features);
    const trace = await pidginSession(w, ids);
    expect(trace.connected).toBe(true);
    // With the default modules the server advertises ad-hoc commands and the blocklist, so the
    // transcript above also replayed Pidgin's ad-hoc list and blocklist fetches.
    const query = trace.info.name === 'query' ? trace.info : trace.info.getChildren().find((c) => c.name === 'query');
    const advertised = (query?.getChildren() ?? []).filter((c) => c.name === 'feature').map((c) => c.attrs.var);
    expect(advertised).toEqual(expect.arrayContaining([NS_COMMANDS, NS_BLOCKING]));

    // jabber_close: "</stream:stream>", and the server answers in kind and closes.
    await w.write('</stream:stream>');
    await w.streamClosed();
    expect(w.received.some((e) => e.name === 'stream:error')).toBe(false);
    expect(w.parseErrors).toEqual([]);
  });

  it('the XEP-0198 <enable/> Pidgin sends after bind gets <enabled/>, its <r/> an <a/>, and the login carries on', async () => {
    const w = await Wire.connect(server.port);
    const ids = new PurpleIds();
    const features = await pidginOpen(w);
    await pidginScram(w, features);
    const trace = await pidginSession(w, ids, { sm: true });
    expect(trace.connected).toBe(true);
    expect(w.received.some((e) => e.xmlns === NS_SM && e.name === 'failed')).toBe(false);
    expect(w.received.some((e) => e.name === 'stream:error')).toBe(false);
    w.destroy();
  });

  it('a wrong password in SCRAM-SHA-1 is <not-authorized/>, and Pidgin can retry on the same stream', async () => {
    const w = await Wire.connect(server.port);
    const features = await pidginOpen(w);
    const scram = new ScramSha1Client(USER, 'wrong password');
    await w.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${b64(scram.first())}</auth>`);
    const ch = await w.nextAny('challenge');
    expect(ch.name).toBe('challenge');
    await w.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${b64(scram.final(unb64(ch.text())))}</response>`);
    const failure = await w.nextAny('failure');
    expect(failure.name).toBe('failure');
    expect(failure.xmlns).toBe(NS_SASL);
    expect(failure.getChildren().filter((c) => c.name !== 'text').map((c) => c.name)).toEqual(['not-authorized']);
    // Pidgin reconnects, but RFC 6120 §6.4.5 lets a client retry on the same stream.
    await pidginScram(w, features);
    w.destroy();
  });

  it('in-band registration probe before auth gets a proper XMPP answer, not silence', async () => {
    const w = await Wire.connect(server.port);
    await pidginOpen(w);
    // jabber_register_start: sent after TLS without looking at the features.
    const id = new PurpleIds().next();
    await w.write(`<iq type='get' id='${id}'><query xmlns='jabber:iq:register'/></iq>`);
    const answer = await w.nextAny('an answer to the registration probe');
    if (answer.name === 'iq') {
      // A registration module answers with the form or a stanza error.
      expect(answer.attrs.id).toBe(id);
      if (answer.attrs.type === 'result') {
        expect(shape(answer)).toEqual(['query jabber:iq:register']);
      } else {
        expect(answer.attrs.type).toBe('error');
        expect(stanzaErrorCondition(answer)).toMatch(/^(not-allowed|forbidden|service-unavailable|feature-not-implemented|registration-required|not-authorized)$/);
      }
    } else {
      // Without one (today), RFC 6120 §4.9.3.12: a stanza before authentication is not-authorized.
      expect(answer.name).toBe('stream:error');
      const conds = answer.getChildren().filter((c) => c.xmlns === NS_STREAM_ERRORS && c.name !== 'text').map((c) => c.name);
      expect(conds).toEqual(['not-authorized']);
      await w.streamClosed();
    }
    w.destroy();
  });

  it('a second Pidgin on the same account with the same resource replaces the first (conflict)', async () => {
    const first = await Wire.login({ port: server.port, username: USER, password: PASSWORD, resource: RESOURCE });
    const w = await Wire.connect(server.port);
    const features = await pidginOpen(w);
    await pidginScram(w, features);
    const bindId = new PurpleIds().next();
    await w.write(`<iq type='set' id='${bindId}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${RESOURCE}</resource></bind></iq>`);
    const bound = await w.nextAny('bind result');
    expect(bound.attrs.type).toBe('result');
    const err = await first.waitFor(match('stream:error'));
    expect(err.getChildren().map((c) => c.name)).toContain('conflict');
    await first.close();
    expect((await ping(w)).attrs.type).toBe('result');
    w.destroy();
  });
});

// libpurple jabber.c, "Register New XMPP Account": jabber_register_account connects like a
// login; jabber_stream_features_parse, after STARTTLS, calls jabber_register_start without
// looking for the iq-register feature; the result goes to jabber_register_parse (the iq handler
// for jabber:iq:register, since the get had no callback), which prefers the x:data form and
// shows it with jabber_x_data_request; jabber_x_data_ok_cb submits every field that has a var
// (hidden ones too, with no type attribute); jabber_registration_result_cb then schedules
// the close, whatever the answer.
describe('Pidgin 2.14 in-band registration, byte for byte', () => {
  const NS_REGISTER = 'jabber:iq:register';
  const NS_DATA = 'jabber:x:data';
  let reg: TestServer;

  beforeAll(async () => {
    reg = await startTestServer({
      extra: 'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "vcard"; "register" }\nallow_registration = true',
    });
  });

  afterAll(async () => {
    await reg?.stop();
  });

  /** Open a stream as Pidgin does, ask for the form; returns the data form. */
  async function pidginAskForm(w: Wire, ids: PurpleIds): Promise<El> {
    const features = await pidginOpen(w);
    // Pidgin does not look for it, but Clove offers the feature once the stream is encrypted.
    expect(features.getChild('register', 'http://jabber.org/features/iq-register')).toBeDefined();
    const getId = ids.next();
    await w.write(`<iq type='get' id='${getId}'><query xmlns='jabber:iq:register'/></iq>`);
    const answer = await w.nextAny('registration form');
    expect(answer.name).toBe('iq');
    expect(answer.attrs.type).toBe('result');
    expect(answer.attrs.id).toBe(getId);
    // jabber_register_parse takes a missing `from` as the server.
    expect(answer.attrs.from).toBeUndefined();
    expect(shape(answer)).toEqual([`query ${NS_REGISTER}`]);
    const query = answer.getChild('query', NS_REGISTER)!;
    expect(query.getChild('registered')).toBeUndefined(); // Pidgin would say "Already Registered"
    const form = query.getChild('x', NS_DATA)!;
    expect(form.attrs.type).toBe('form');
    return form;
  }

  /** jabber_x_data_ok_cb: every field with a var, its value as the user left or typed it. */
  function pidginSubmit(form: El, typed: Record<string, string>): string {
    const fields = form.getChildren('field').filter((f) => f.attrs.var !== undefined).map((f) => {
      const v = typed[f.attrs.var!] ?? f.getChildText('value') ?? '';
      return `<field var='${xmlEscape(f.attrs.var!)}'><value>${xmlEscape(v)}</value></field>`;
    });
    return `<x xmlns='jabber:x:data' type='submit'>${fields.join('')}</x>`;
  }

  it('after STARTTLS and before auth: form, submit, result, close; the new account then logs in with SCRAM-SHA-1', async () => {
    const NEW_USER = 'newpidgin';
    const NEW_PASS = 'nëw pürple';
    const accounts = reg.server.hosts.get(reg.domain)!.accounts;
    const w = await Wire.connect(reg.port);
    const ids = new PurpleIds();
    const form = await pidginAskForm(w, ids);
    const vars = form.getChildren('field').map((f) => f.attrs.var);
    expect(vars).toEqual(expect.arrayContaining(['FORM_TYPE', 'username', 'password']));

    const setId = ids.next();
    await w.write(`<iq type='set' id='${setId}'><query xmlns='jabber:iq:register'>${pidginSubmit(form, { username: NEW_USER, password: NEW_PASS })}</query></iq>`);
    const done = await w.nextAny('registration result');
    expect(done.attrs).toMatchObject({ type: 'result', id: setId });
    // jabber_registration_result_cb → jabber_connection_schedule_close → jabber_close.
    await w.write('</stream:stream>');
    await w.streamClosed();
    expect(w.received.some((e) => e.name === 'stream:error')).toBe(false);
    expect(w.parseErrors).toEqual([]);
    expect(await accounts.exists(NEW_USER)).toBe(true);

    // The account Pidgin just created logs in the way Pidgin logs in.
    const l = await Wire.connect(reg.port);
    const features = await pidginOpen(l);
    expect(mechanismsOf(features)).toContain('SCRAM-SHA-1');
    const scram = new ScramSha1Client(NEW_USER, NEW_PASS);
    await l.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${b64(scram.first())}</auth>`);
    const challenge = await l.nextAny('SCRAM challenge');
    expect(challenge.name).toBe('challenge');
    await l.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${b64(scram.final(unb64(challenge.text())))}</response>`);
    const success = await l.nextAny('SASL success');
    expect(success.name).toBe('success');
    expect(scram.verify(unb64(success.text()))).toBe(true);
    l.destroy();
  });

  it('Cancel on the form: Pidgin submits type=cancel and gets a stanza error; nothing is stored', async () => {
    const accounts = reg.server.hosts.get(reg.domain)!.accounts;
    const before = await accounts.list();
    const w = await Wire.connect(reg.port);
    const ids = new PurpleIds();
    await pidginAskForm(w, ids);
    // jabber_x_data_cancel_cb hands jabber_register_x_data_cb an empty type='cancel' form.
    const setId = ids.next();
    await w.write(`<iq type='set' id='${setId}'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='cancel'/></query></iq>`);
    const answer = await w.nextAny('answer to the cancelled form');
    expect(answer.attrs).toMatchObject({ type: 'error', id: setId });
    // Pidgin shows "Registration Failed" with this text, never "Registration Successful".
    expect(stanzaErrorCondition(answer)).toBe('not-acceptable');
    expect(answer.getChild('error')!.getChildText('text', NS_STANZAS)).toMatch(/cancelled/);
    await w.write('</stream:stream>');
    await w.streamClosed();
    expect(await accounts.list()).toEqual(before);
  });

  it('a name already taken: conflict with a text Pidgin can show, and the stream stays usable', async () => {
    await reg.addUser('pidgintaken', 'first');
    const w = await Wire.connect(reg.port);
    const ids = new PurpleIds();
    const form = await pidginAskForm(w, ids);
    const setId = ids.next();
    await w.write(`<iq type='set' id='${setId}'><query xmlns='jabber:iq:register'>${pidginSubmit(form, { username: 'PidginTaken', password: 'second' })}</query></iq>`);
    const answer = await w.nextAny('conflict');
    expect(answer.attrs).toMatchObject({ type: 'error', id: setId });
    expect(stanzaErrorCondition(answer)).toBe('conflict');
    expect(answer.getChild('error')!.getChildText('text', NS_STANZAS)).toMatch(/taken/);
    expect(answer.toString()).not.toContain('second');
    // Another name on the same stream works (a real Pidgin would reconnect to try again).
    const retryId = ids.next();
    await w.write(`<iq type='set' id='${retryId}'><query xmlns='jabber:iq:register'>${pidginSubmit(form, { username: 'pidginother', password: 'second' })}</query></iq>`);
    expect((await w.nextAny('registration result')).attrs).toMatchObject({ type: 'result', id: retryId });
    w.destroy();
    await reg.server.hosts.get(reg.domain)!.accounts.exists('pidginother').then((e) => expect(e).toBe(true));
  });
});
