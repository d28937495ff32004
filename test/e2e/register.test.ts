// In-band registration (XEP-0077) end to end: the form before authentication (raw XML), the
// x:data and the legacy path (slixmpp's own XEP-0077 client), logins with the new accounts
// (xmpp.js, slixmpp, raw), closed registration, the throttles, bad input, password change and
// account removal. Three real servers on 127.0.0.1, port 0: open, open with
// registration_throttle_max = 3, and closed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type El, match, Wire, xmlEscape } from '../helpers/wire.js';
import { connectXmppjs, xml, type XmppjsClient } from '../helpers/xmppjs.js';
import { parseXml, Slixmpp, SlixError } from '../helpers/slixmpp.js';

const NS_REGISTER = 'jabber:iq:register';
const NS_FEATURE = 'http://jabber.org/features/iq-register';
const NS_DATA = 'jabber:x:data';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
const MODULES = 'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "vcard"; "register"; "private" }';

let open: TestServer;
let throttled: TestServer;
let closed: TestServer;
const raws: Wire[] = [];
const xmppjs: XmppjsClient[] = [];

beforeAll(async () => {
  [open, throttled, closed] = await Promise.all([
    startTestServer({ extra: [MODULES, 'allow_registration = true', 'registration_throttle_max = 100'].join('\n') }),
    startTestServer({ extra: [MODULES, 'allow_registration = true', 'registration_throttle_max = 3', 'registration_throttle_period = 3600'].join('\n') }),
    startTestServer({ extra: MODULES }),
  ]);
});

afterEach(async () => {
  await Promise.all([...raws.splice(0).map((c) => c.close()), ...xmppjs.splice(0).map((c) => c.stop())]);
});

afterAll(async () => {
  await Promise.all([open?.stop(), throttled?.stop(), closed?.stop()]);
});

const accounts = (ts: TestServer) => ts.server.hosts.get(ts.domain)!.accounts;

/** A connection before authentication, after STARTTLS unless `tls` is false. */
async function unauthenticated(ts: TestServer, tls = true): Promise<Wire> {
  const c = await Wire.open({ port: ts.port });
  raws.push(c);
  if (tls) await c.startTls();
  return c;
}

async function login(ts: TestServer, username: string, password: string): Promise<Wire> {
  const c = await Wire.login({ port: ts.port, username, password });
  raws.push(c);
  return c;
}

async function loginFails(ts: TestServer, username: string, password: string): Promise<void> {
  await expect(Wire.login({ port: ts.port, username, password })).rejects.toThrow(/authentication failed/);
}

/** A submitted XEP-0004 form; `fields` maps var → value(s). */
function formSet(fields: Record<string, string | string[]>, type = 'submit'): string {
  const f = Object.entries(fields).map(([k, v]) =>
    `<field var='${xmlEscape(k)}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${xmlEscape(x)}</value>`).join('')}</field>`).join('');
  return `<iq type='set'><query xmlns='${NS_REGISTER}'><x xmlns='${NS_DATA}' type='${type}'>${f}</x></query></iq>`;
}
const registrationForm = (username: string, password: string) => formSet({ FORM_TYPE: NS_REGISTER, username, password });
const legacySet = (username: string, password: string) =>
  `<iq type='set'><query xmlns='${NS_REGISTER}'><username>${xmlEscape(username)}</username><password>${xmlEscape(password)}</password></query></iq>`;

interface StanzaErr { type?: string; condition?: string; text?: string }
function errorOf(reply: El): StanzaErr {
  const e = reply.getChild('error');
  return {
    type: e?.attrs.type,
    condition: e?.elements().find((c) => c.xmlns === NS_STANZAS && c.name !== 'text')?.name,
    text: e?.getChildText('text', NS_STANZAS),
  };
}

describe('registration before authentication', () => {
  it('before TLS: no stream feature and policy-violation; after TLS: the feature and a form with legacy fields and x:data', async () => {
    const c = await unauthenticated(open, false);
    expect(c.features!.getChild('register', NS_FEATURE)).toBeUndefined();
    const early = await c.iq(`<iq type='get'><query xmlns='${NS_REGISTER}'/></iq>`);
    expect(errorOf(early)).toMatchObject({ type: 'modify', condition: 'policy-violation' });
    expect(errorOf(early).text).toMatch(/STARTTLS/);
    const earlySet = await c.iq(legacySet('early', 'secret'));
    expect(errorOf(earlySet).condition).toBe('policy-violation');
    expect(await accounts(open).exists('early')).toBe(false);

    // The stream is still usable: upgrade and ask again.
    await c.startTls();
    expect(c.features!.getChild('register', NS_FEATURE)).toBeDefined();
    const r = await c.iq(`<iq type='get' id='reg1'><query xmlns='${NS_REGISTER}'/></iq>`);
    expect(r.attrs).toMatchObject({ type: 'result', id: 'reg1' });
    expect(r.attrs.to).toBeUndefined();
    const q = r.getChild('query', NS_REGISTER)!;
    expect(q.getChildText('instructions')).toMatch(/username/i);
    expect(q.getChild('username')).toBeDefined();
    expect(q.getChild('password')).toBeDefined();
    expect(q.getChild('registered')).toBeUndefined();
    const form = q.getChild('x', NS_DATA)!;
    expect(form.attrs.type).toBe('form');
    const fields = form.getChildren('field');
    const formType = fields.find((f) => f.attrs.var === 'FORM_TYPE')!;
    expect(formType.attrs.type).toBe('hidden');
    expect(formType.getChildText('value')).toBe(NS_REGISTER);
    for (const [name, type] of [['username', 'text-single'], ['password', 'text-private']]) {
      const f = fields.find((x) => x.attrs.var === name)!;
      expect(f.attrs.type).toBe(type);
      expect(f.getChild('required')).toBeDefined();
    }
  });

  it('x:data form: the account is created, a second one on the same connection is refused, and xmpp.js logs in with it', async () => {
    const c = await unauthenticated(open);
    const r = await c.iq(registrationForm('formuser', 'form pässword'));
    expect(r.attrs.type).toBe('result');
    expect(r.elements()).toEqual([]);
    expect(await accounts(open).exists('formuser')).toBe(true);

    const again = await c.iq(registrationForm('formuser2', 'another'));
    expect(errorOf(again).condition).toBe('not-acceptable');
    expect(errorOf(again).text).toMatch(/already created an account/);
    expect(await accounts(open).exists('formuser2')).toBe(false);

    const x = await connectXmppjs(open, { username: 'formuser', password: 'form pässword', resource: 'web' });
    xmppjs.push(x);
    expect(x.jid).toBe(`formuser@${open.domain}/web`);
    const me = await x.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_REGISTER })));
    expect(me.attrs.type).toBe('result');
    expect(me.getChild('query', NS_REGISTER)!.getChild('registered')).toBeDefined();
    expect(me.getChild('query', NS_REGISTER)!.getChildText('username')).toBe('formuser');
  });

  it("legacy fields: slixmpp's XEP-0077 client registers, logs in, and changes its password", async () => {
    const py = await Slixmpp.start(open);
    try {
      const s = await py.call<{ jid: string; registered: boolean; form: string }>('register', { name: 'r1', jid: `slixuser@${open.domain}`, password: 'slix pass' });
      expect(s.registered).toBe(true);
      expect(s.jid.startsWith(`slixuser@${open.domain}/`)).toBe(true);
      expect(parseXml(s.form).getChild('query', NS_REGISTER)?.getChild('x', NS_DATA)).toBeDefined();
      expect(await accounts(open).exists('slixuser')).toBe(true);

      const changed = await py.call<{ type: string }>('change_password', { name: 'r1', password: 'slix new pass' });
      expect(changed.type).toBe('result');
    } finally {
      await py.stop();
    }
    await login(open, 'slixuser', 'slix new pass');
    await loginFails(open, 'slixuser', 'slix pass');
  });

  it('a taken name is conflict, and the existing account is untouched', async () => {
    await open.addUser('taken', 'original');
    const c = await unauthenticated(open);
    const r = await c.iq(legacySet('Taken', 'hijack'));
    expect(errorOf(r)).toMatchObject({ type: 'cancel', condition: 'conflict' });
    expect(errorOf(r).text).toMatch(/taken/);
    await login(open, 'taken', 'original');
    await loginFails(open, 'taken', 'hijack');
  });

  it('bad input: each a clear error, nothing echoed, nothing stored', async () => {
    const long = 'a'.repeat(1024);
    const cases: { what: string; xml: string; condition: string; text: RegExp; name?: string }[] = [
      { what: 'form without password', xml: formSet({ FORM_TYPE: NS_REGISTER, username: 'nopass' }), condition: 'not-acceptable', text: /password is required/, name: 'nopass' },
      { what: 'form without username', xml: formSet({ FORM_TYPE: NS_REGISTER, password: 'secret' }), condition: 'not-acceptable', text: /username is required/ },
      { what: 'form of another type', xml: formSet({ FORM_TYPE: 'urn:example:other', username: 'othertype', password: 'secret' }), condition: 'not-acceptable', text: /FORM_TYPE/, name: 'othertype' },
      { what: "form not type='submit'", xml: formSet({ FORM_TYPE: NS_REGISTER, username: 'notsubmit', password: 'secret' }, 'form'), condition: 'bad-request', text: /submit/, name: 'notsubmit' },
      { what: 'cancelled form', xml: formSet({}, 'cancel'), condition: 'not-acceptable', text: /cancelled/ },
      { what: 'field twice', xml: `<iq type='set'><query xmlns='${NS_REGISTER}'><x xmlns='${NS_DATA}' type='submit'><field var='username'><value>twice</value></field><field var='username'><value>twice2</value></field><field var='password'><value>secret</value></field></x></query></iq>`, condition: 'not-acceptable', text: /twice/, name: 'twice' },
      { what: 'two values', xml: formSet({ username: ['two', 'values'], password: 'secret' }), condition: 'not-acceptable', text: /several values/, name: 'two' },
      { what: 'no fields at all', xml: `<iq type='set'><query xmlns='${NS_REGISTER}'/></iq>`, condition: 'not-acceptable', text: /username is required/ },
      { what: 'empty username', xml: legacySet('', 'secret'), condition: 'not-acceptable', text: /username is empty/ },
      { what: 'over-long username', xml: legacySet(long, 'secret'), condition: 'jid-malformed', text: /1023 bytes/ },
      { what: "username with '@'", xml: legacySet(`evil@${open.domain}`, 'secret'), condition: 'jid-malformed', text: /'@'/ },
      { what: 'username with a space', xml: legacySet('has space', 'secret'), condition: 'jid-malformed', text: /disallowed character U\+0020/ },
      { what: 'empty password', xml: legacySet('emptypass', ''), condition: 'not-acceptable', text: /password is empty/, name: 'emptypass' },
      { what: 'empty password in a form', xml: registrationForm('emptyformpass', ''), condition: 'not-acceptable', text: /password is empty/, name: 'emptyformpass' },
      { what: '<remove/> before login', xml: `<iq type='set'><query xmlns='${NS_REGISTER}'><remove/></query></iq>`, condition: 'unexpected-request', text: /log in/ },
    ];
    const before = await accounts(open).list();
    for (const k of cases) {
      // A fresh connection per case: the per-connection attempt cap is tested on its own.
      const c = await unauthenticated(open);
      const r = await c.iq(k.xml);
      expect(r.attrs.type, k.what).toBe('error');
      expect(errorOf(r).condition, `${k.what}: ${r.toString()}`).toBe(k.condition);
      expect(errorOf(r).text, k.what).toMatch(k.text);
      expect(r.getChild('query'), `${k.what}: the request is not echoed`).toBeUndefined();
      expect(r.toString()).not.toContain('secret');
      if (k.name) expect(await accounts(open).exists(k.name), k.what).toBe(false);
      // The stream survives the error.
      expect(c.closed, k.what).toBe(false);
      await c.close();
    }
    expect(await accounts(open).list()).toEqual(before);
  });

  it('per connection: five attempts, then a reconnect is needed; iq types other than get and set are refused', async () => {
    const c = await unauthenticated(open);
    for (let i = 0; i < 5; i++) expect(errorOf(await c.iq(legacySet(`tries${i}`, ''))).condition).toBe('not-acceptable');
    const sixth = await c.iq(legacySet('sixth', 'fine password'));
    expect(errorOf(sixth).condition).toBe('not-acceptable');
    expect(errorOf(sixth).text).toMatch(/too many registration attempts/);
    expect(await accounts(open).exists('sixth')).toBe(false);
    const bad = await c.iq(`<iq type='nonsense'><query xmlns='${NS_REGISTER}'/></iq>`);
    expect(errorOf(bad).condition).toBe('bad-request');

    const d = await unauthenticated(open);
    expect((await d.iq(legacySet('sixth', 'fine password'))).attrs.type).toBe('result');
    expect(await accounts(open).exists('sixth')).toBe(true);
  });

  it('other iqs before authentication still end the stream with not-authorized', async () => {
    const c = await unauthenticated(open);
    c.send(`<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`);
    const err = await c.waitFor(match('stream:error'));
    expect(err.elements().filter((e) => e.xmlns === NS_STREAM_ERRORS && e.name !== 'text').map((e) => e.name)).toEqual(['not-authorized']);
  });
});

describe('the host-wide throttle (registration_throttle_max = 3)', () => {
  it('three accounts on three connections, the fourth waits; refusals do not use up the budget', async () => {
    await throttled.addUser('existing', 'pw');
    // Refused attempts cost nothing.
    const refused = await unauthenticated(throttled);
    expect(errorOf(await refused.iq(legacySet('existing', 'other'))).condition).toBe('conflict');
    expect(errorOf(await refused.iq(legacySet('', 'other'))).condition).toBe('not-acceptable');

    for (const name of ['flood1', 'flood2', 'flood3']) {
      const c = await unauthenticated(throttled);
      const r = await c.iq(registrationForm(name, `${name} pass`));
      expect(r.attrs.type, name).toBe('result');
    }
    const c = await unauthenticated(throttled);
    const fourth = await c.iq(registrationForm('flood4', 'flood4 pass'));
    expect(errorOf(fourth)).toMatchObject({ type: 'wait', condition: 'resource-constraint' });
    const wait = Number(/try again in (\d+) seconds/.exec(errorOf(fourth).text ?? '')?.[1]);
    expect(wait).toBeGreaterThan(3500);
    expect(wait).toBeLessThanOrEqual(3600);
    expect(await accounts(throttled).exists('flood4')).toBe(false);
    // A legacy registration is throttled the same way.
    const legacy = await unauthenticated(throttled);
    expect(errorOf(await legacy.iq(legacySet('flood5', 'flood5 pass'))).condition).toBe('resource-constraint');

    // The accounts that were created work.
    const x = await connectXmppjs(throttled, { username: 'flood1', password: 'flood1 pass' });
    xmppjs.push(x);
    expect(x.jid.startsWith(`flood1@${throttled.domain}/`)).toBe(true);
    await login(throttled, 'flood3', 'flood3 pass');
  });
});

describe('registration closed (allow_registration = false)', () => {
  it('no stream feature; get is service-unavailable, set is not-allowed, nothing stored', async () => {
    const c = await unauthenticated(closed);
    expect(c.features!.getChild('register', NS_FEATURE)).toBeUndefined();
    const get = await c.iq(`<iq type='get'><query xmlns='${NS_REGISTER}'/></iq>`);
    expect(errorOf(get)).toMatchObject({ type: 'cancel', condition: 'service-unavailable' });
    expect(errorOf(get).text).toMatch(/closed/);
    const set = await c.iq(registrationForm('intruder', 'secret'));
    expect(errorOf(set)).toMatchObject({ type: 'cancel', condition: 'not-allowed' });
    expect(await accounts(closed).exists('intruder')).toBe(false);
    await loginFails(closed, 'intruder', 'secret');
  });

  it('a logged-in user still sees its registration and changes its password (to the domain, as Pidgin sends it)', async () => {
    await closed.addUser('member', 'old pass');
    const c = await login(closed, 'member', 'old pass');
    const me = await c.iq(`<iq type='get' to='${closed.domain}'><query xmlns='${NS_REGISTER}'/></iq>`);
    expect(me.attrs).toMatchObject({ type: 'result', from: closed.domain });
    expect(me.getChild('query', NS_REGISTER)!.getChild('registered')).toBeDefined();

    const r = await c.iq(`<iq type='set' to='${closed.domain}'><query xmlns='${NS_REGISTER}'><username>member</username><password>new pass</password></query></iq>`);
    expect(r.attrs.type).toBe('result');
    await login(closed, 'member', 'new pass');
    await loginFails(closed, 'member', 'old pass');
  });

  it('a logged-in user removes its account: result, then not-authorized on every session; login fails afterwards', async () => {
    await closed.addUser('leaver', 'leaver pass');
    const a = await login(closed, 'leaver', 'leaver pass');
    const b = await login(closed, 'leaver', 'leaver pass');
    // Something to clean up: a vCard.
    expect((await a.iq(`<iq type='set'><vCard xmlns='vcard-temp'><FN>Leaver</FN></vCard></iq>`)).attrs.type).toBe('result');

    const extra = await a.iq(`<iq type='set'><query xmlns='${NS_REGISTER}'><remove/><username>leaver</username></query></iq>`);
    expect(errorOf(extra).condition).toBe('bad-request');
    expect(await accounts(closed).exists('leaver')).toBe(true);

    const r = await a.iq(`<iq type='set' id='unreg1'><query xmlns='${NS_REGISTER}'><remove/></query></iq>`);
    expect(r.attrs).toMatchObject({ type: 'result', id: 'unreg1' });
    for (const s of [a, b]) {
      const err = await s.waitFor(match('stream:error'));
      expect(err.elements().filter((e) => e.xmlns === NS_STREAM_ERRORS && e.name !== 'text').map((e) => e.name)).toEqual(['not-authorized']);
    }
    // The result came before the stream error.
    expect(a.received.indexOf(r)).toBeLessThan(a.received.findIndex((e) => e.name === 'stream:error'));
    expect(await accounts(closed).exists('leaver')).toBe(false);
    await loginFails(closed, 'leaver', 'leaver pass');

    // Its data went with it: a new account of the same name starts empty.
    await closed.addUser('leaver', 'fresh pass');
    const c = await login(closed, 'leaver', 'fresh pass');
    const v = await c.iq(`<iq type='get'><vCard xmlns='vcard-temp'/></iq>`);
    expect(errorOf(v).condition).toBe('item-not-found');
  });

  it('password change refusals: empty password keeps the old one, another user is forbidden, nothing echoed', async () => {
    await closed.addUser('careful', 'keep me');
    await closed.addUser('victim', 'victim pass');
    const c = await login(closed, 'careful', 'keep me');
    const empty = await c.iq(`<iq type='set'><query xmlns='${NS_REGISTER}'><username>careful</username><password/></query></iq>`);
    expect(errorOf(empty).condition).toBe('not-acceptable');
    const other = await c.iq(`<iq type='set'><query xmlns='${NS_REGISTER}'><username>victim</username><password>stolen secret</password></query></iq>`);
    expect(errorOf(other).condition).toBe('forbidden');
    expect(other.getChild('query')).toBeUndefined();
    expect(other.toString()).not.toContain('stolen');
    const noName = await c.iq(`<iq type='set'><query xmlns='${NS_REGISTER}'><password>nameless secret</password></query></iq>`);
    expect(errorOf(noName).condition).toBe('bad-request');
    // The change-password form with the bare JID works (XEP-0077 §3.3).
    const form = await c.iq(formSet({ FORM_TYPE: 'jabber:iq:register:changepassword', username: `careful@${closed.domain}`, password: 'formed pass' }));
    expect(form.attrs.type).toBe('result');
    await login(closed, 'careful', 'formed pass');
    await login(closed, 'victim', 'victim pass');
    await loginFails(closed, 'careful', 'keep me');
  });

  it("someone else's account cannot be asked about or removed", async () => {
    await closed.addUser('nosy', 'nosy pass');
    await closed.addUser('target', 'target pass');
    const c = await login(closed, 'nosy', 'nosy pass');
    const r = await c.iq(`<iq type='set' to='target@${closed.domain}'><query xmlns='${NS_REGISTER}'><remove/></query></iq>`);
    expect(r.attrs.type).toBe('error');
    expect(await accounts(closed).exists('target')).toBe(true);
  });
});

describe('slixmpp against closed registration', () => {
  it('without the stream feature slixmpp does not register, and the login fails', async () => {
    const py = await Slixmpp.start(closed);
    try {
      const err = await py.call('register', { name: 'x', jid: `ghost@${closed.domain}`, password: 'ghost pass' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SlixError);
      expect((err as SlixError).info.kind).toBe('sasl');
    } finally {
      await py.stop();
    }
    expect(await accounts(closed).exists('ghost')).toBe(false);
  });
});
