// Invitations end to end (XEP-0401 / XEP-0445 / XEP-0379, as Prosody's mod_invites,
// mod_invites_adhoc and mod_invites_register) with the raw client, registration closed
// (allow_registration unset): an admin's contact invitation from the ad-hoc command registers
// an account and both rosters hold the other with subscription 'both'; a used token, an expired
// one (a clock the test moves) and a guessed one are refused with item-not-found; slixmpp's
// XEP-0077 client registers with a token it gives first (XEP-0445); two
// registrations racing for one token create one account; a user without allow_user_invites gets
// a contact-only invitation; guessing is throttled per connection and per host.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testUsers } from '../helpers/contacts.js';
import { type El, Wire, xmlEscape } from '../helpers/wire.js';
import { TestClock } from '../helpers/mam.js';
import { Slixmpp } from '../helpers/slixmpp.js';
import { createInvites } from '../../src/modules/invites/invites.js';

const NS_CMD = 'http://jabber.org/protocol/commands';
const NS_PARS = 'urn:xmpp:pars:0';
const NS_REGISTER = 'jabber:iq:register';
const NS_ROSTER = 'jabber:iq:roster';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const PASS = 'invite-pass';
const MODULES = 'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "register"; "adhoc"; "invites"; "invites_adhoc"; "invites_register" }';

const clock = new TestClock();
let ts: TestServer;
const { login, closeAll, open } = testUsers(() => ts, PASS);

beforeAll(async () => {
  ts = await startTestServer({ extra: MODULES, hosts: 'VirtualHost "localhost"\n  admins = { "boss@localhost" }', extraModules: [createInvites(clock)] });
  for (const u of ['boss', 'carol', 'dora']) await ts.addUser(u, PASS);
});
afterEach(closeAll);
afterAll(async () => {
  await ts?.stop();
});

const condition = (iq: El): string | undefined => iq.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS)?.name;

/** A connection after STARTTLS, before authentication. */
async function fresh(): Promise<Wire> {
  const w = await Wire.open({ port: ts.port });
  open.push(w);
  await w.startTls();
  return w;
}

/** Run an invitation command; returns its completed <command/>. */
async function command(w: Wire, node: string): Promise<El> {
  const iq = await w.iq(`<iq type='set' to='localhost'><command xmlns='${NS_CMD}' node='${node}' action='execute'/></iq>`);
  expect(iq.attrs.type, iq.toString()).toBe('result');
  const cmd = iq.getChild('command', NS_CMD) as El;
  expect(cmd.attrs.status).toBe('completed');
  return cmd;
}

const field = (cmd: El, name: string): string | undefined =>
  cmd.getChild('x', 'jabber:x:data')?.getChildren('field').find((f) => f.attrs.var === name)?.getChildText('value');

/** The token of an invitation URI. */
function tokenOf(uri: string | undefined): string {
  const m = /[?;]preauth=([A-Za-z0-9_-]+)/.exec(uri ?? '');
  if (!m) throw new Error(`no preauth in ${uri}`);
  return m[1] as string;
}

const preauth = (w: Wire, token: string): Promise<El> => w.iq(`<iq type='set' to='localhost'><preauth xmlns='${NS_PARS}' token='${xmlEscape(token)}'/></iq>`);
const register = (w: Wire, user: string, password = PASS): Promise<El> =>
  w.iq(`<iq type='set' to='localhost'><query xmlns='${NS_REGISTER}'><username>${user}</username><password>${password}</password></query></iq>`);

async function rosterOf(w: Wire): Promise<Record<string, string>> {
  const iq = await w.iq(`<iq type='get'><query xmlns='${NS_ROSTER}'/></iq>`);
  return Object.fromEntries((iq.getChild('query', NS_ROSTER)?.getChildren('item') ?? []).map((i) => [i.attrs.jid, i.attrs.subscription]));
}

describe('invitations with registration closed', () => {
  it('an admin\'s contact invitation registers an account, subscribed both ways with the admin, and is used up', async () => {
    const boss = await login('boss');
    expect(await rosterOf(boss)).toEqual({}); // and now boss gets roster pushes
    const cmd = await command(boss, 'urn:xmpp:invite#invite');
    const uri = field(cmd, 'uri');
    expect(uri).toMatch(/^xmpp:boss@localhost\?roster;preauth=[A-Za-z0-9_-]{36};ibr=y$/);
    expect(Date.parse(field(cmd, 'expire') ?? '')).toBeGreaterThan(clock.now() + 6 * 86_400_000);
    const token = tokenOf(uri);

    const w = await fresh();
    const features = w.features as El;
    expect(features.getChild('register', 'urn:xmpp:ibr-token:0')).toBeDefined();
    // Offered too, as Prosody's invitation-only setup does (Conversations needs it).
    expect(features.getChild('register', 'http://jabber.org/features/iq-register')).toBeDefined();
    // Closed without the token…
    const closed = await register(w, 'newbie');
    expect(condition(closed)).toBe('not-allowed');
    expect(closed.getChild('error')?.getChildText('text', NS_STANZAS)).toMatch(/by invitation only/);
    // …open with it.
    expect((await preauth(w, token)).attrs.type).toBe('result');
    const form = await w.iq(`<iq type='get' to='localhost'><query xmlns='${NS_REGISTER}'/></iq>`);
    expect(form.attrs.type).toBe('result');
    const done = await register(w, 'newbie');
    expect(done.attrs.type, done.toString()).toBe('result');

    // The admin, online, gets a roster push for the new contact.
    const push = await boss.waitFor((el) => el.name === 'iq' && el.attrs.type === 'set' && el.getChild('query', NS_ROSTER)?.getChild('item')?.attrs.jid === 'newbie@localhost');
    expect(push.getChild('query', NS_ROSTER)?.getChild('item')?.attrs.subscription).toBe('both');
    const newbie = await login('newbie');
    expect(await rosterOf(newbie)).toEqual({ 'boss@localhost': 'both' });
    expect(await rosterOf(boss)).toEqual({ 'newbie@localhost': 'both' });

    // Used: the same token again is unknown.
    const again = await fresh();
    const reused = await preauth(again, token);
    expect(condition(reused)).toBe('item-not-found');
    expect(reused.toString()).not.toContain(token);
    expect(condition(await register(again, 'second'))).toBe('not-allowed');
    expect(await ts.server.hosts.get('localhost')!.accounts.exists('second')).toBe(false);
  });

  it("slixmpp's XEP-0077 client registers with an account invitation (the token given first, XEP-0445) and logs in", async () => {
    const boss = await login('boss');
    const token = tokenOf(field(await command(boss, 'urn:xmpp:invite#create-account'), 'uri'));
    const py = await Slixmpp.start(ts);
    try {
      const s = await py.call<{ jid: string; registered: boolean }>('register', { name: 'inv', jid: 'slixinvited@localhost', password: PASS, preauth: token });
      expect(s.registered).toBe(true);
      expect(s.jid.startsWith('slixinvited@localhost/')).toBe(true);
    } finally {
      await py.stop();
    }
    expect(await ts.server.hosts.get('localhost')!.accounts.exists('slixinvited')).toBe(true);
  });

  it('an account invitation expires after invite_expiry (one week) on the clock', async () => {
    const boss = await login('boss');
    const token = tokenOf(field(await command(boss, 'urn:xmpp:invite#create-account'), 'uri'));
    await clock.advance(6 * 86_400_000);
    const early = await fresh();
    expect((await preauth(early, token)).attrs.type).toBe('result');
    await early.close();
    await clock.advance(86_400_000 + 60_000);
    const late = await fresh();
    expect(condition(await preauth(late, token))).toBe('item-not-found');
    expect(condition(await register(late, 'toolate'))).toBe('not-allowed');
  });

  it('two registrations racing for one token create exactly one account', async () => {
    const boss = await login('boss');
    const uri = field(await command(boss, 'urn:xmpp:invite#create-account'), 'uri');
    expect(uri).toMatch(/^xmpp:localhost\?register;preauth=/);
    const token = tokenOf(uri);
    const [a, b] = await Promise.all([fresh(), fresh()]);
    for (const w of [a, b]) expect((await preauth(w, token)).attrs.type).toBe('result');
    const [ra, rb] = await Promise.all([register(a, 'racer1'), register(b, 'racer2')]);
    expect([ra.attrs.type, rb.attrs.type].sort()).toEqual(['error', 'result']);
    expect(condition(ra.attrs.type === 'error' ? ra : rb)).toBe('not-allowed');
    const accounts = ts.server.hosts.get('localhost')!.accounts;
    expect([await accounts.exists('racer1'), await accounts.exists('racer2')].filter(Boolean)).toHaveLength(1);
  });

  it('a user without allow_user_invites gets a contact invitation that creates no account', async () => {
    const carol = await login('carol');
    const cmd = await command(carol, 'urn:xmpp:invite#invite');
    const uri = field(cmd, 'uri');
    expect(uri).toMatch(/^xmpp:carol@localhost\?roster;preauth=[A-Za-z0-9_-]{36}$/);
    const w = await fresh();
    expect(condition(await preauth(w, tokenOf(uri)))).toBe('item-not-found');
    // Not listed for her, and refused: the account invitation is for admins.
    const refused = await carol.iq(`<iq type='set' to='localhost'><command xmlns='${NS_CMD}' node='urn:xmpp:invite#create-account' action='execute'/></iq>`);
    expect(condition(refused)).toBe('forbidden');
  });

  it('a contact invitation pre-approves an existing account\'s subscription request (XEP-0379), once', async () => {
    const carol = await login('carol');
    expect(await rosterOf(carol)).toEqual({});
    const token = tokenOf(field(await command(carol, 'urn:xmpp:invite#invite'), 'uri'));
    const dora = await login('dora');
    expect(await rosterOf(dora)).toEqual({});
    for (const w of [carol, dora]) w.send('<presence/>'); // subscription stanzas go to available resources
    dora.send(`<presence type='subscribe' to='carol@localhost'><preauth xmlns='${NS_PARS}' token='${token}'/></presence>`);
    // Approved at once, and carol asks back: the goal is a mutual subscription.
    await dora.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribed' && el.attrs.from === 'carol@localhost');
    await dora.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === 'carol@localhost');
    dora.send("<presence type='subscribed' to='carol@localhost'/>");
    await carol.waitFor((el) => el.name === 'iq' && el.getChild('query', NS_ROSTER)?.getChild('item')?.attrs.subscription === 'both');
    expect(await rosterOf(dora)).toEqual({ 'carol@localhost': 'both' });
    // Used up: the same token does nothing for someone else (the request waits for carol).
    const boss = await login('boss');
    boss.send(`<presence type='subscribe' to='carol@localhost'><preauth xmlns='${NS_PARS}' token='${token}'/></presence>`);
    await carol.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === 'boss@localhost');
    expect((await rosterOf(carol))['boss@localhost']).toBeUndefined();
  });

  it('an invitation for one username registers only that name; a reusable one registers several accounts', async () => {
    const service = ts.server.hosts.get('localhost')!.items('invite-service')[0]!;
    const named = await service.create({ type: 'register', creator: 'test', username: 'alice', allowRegistration: true });
    expect(service.links(named).uri).toMatch(/^xmpp:alice@localhost\?register;preauth=/);
    const w = await fresh();
    expect((await preauth(w, named.token)).attrs.type).toBe('result');
    const wrongName = await register(w, 'mallory');
    expect(condition(wrongName)).toBe('not-allowed');
    expect((await register(w, 'alice')).attrs.type).toBe('result');

    const reusable = await service.create({ type: 'register', creator: 'test', allowRegistration: true, reusable: true });
    for (const user of ['many1', 'many2']) {
      const c = await fresh();
      expect((await preauth(c, reusable.token)).attrs.type).toBe('result');
      expect((await register(c, user)).attrs.type).toBe('result');
    }
  });

  it('throttles token guessing per connection, then for the whole host', async () => {
    const boss = await login('boss');
    const valid = tokenOf(field(await command(boss, 'urn:xmpp:invite#create-account'), 'uri'));
    // Same id, wrong secret: the id exists, the secret does not match.
    const wrong = (i: number): string => valid.slice(0, 12) + String(i).padStart(24, 'x');
    const one = await fresh();
    for (let i = 0; i < 5; i++) expect(condition(await preauth(one, wrong(i)))).toBe('item-not-found');
    expect(condition(await preauth(one, valid))).toBe('not-acceptable');
    // 30 wrong tokens a minute over the host: then even a valid one waits.
    let refused: El | undefined;
    for (let c = 0; c < 6 && !refused; c++) {
      const w = await fresh();
      for (let i = 0; i < 5; i++) {
        const r = await preauth(w, wrong(c * 5 + i));
        if (condition(r) === 'resource-constraint') { refused = r; break; }
      }
    }
    expect(refused?.getChild('error')?.attrs.type).toBe('wait');
    const patient = await fresh();
    expect(condition(await preauth(patient, valid))).toBe('resource-constraint');
  });
});
