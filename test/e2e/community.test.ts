// A community server's messages (Prosody's mod_motd, mod_welcome, mod_announce) end to end with
// the raw client: a session gets motd_text (its indentation removed) from motd_jid after its
// first available presence, and only then; a new account registered in-band finds
// welcome_message, with $username and $host replaced, waiting at its first login (offline
// storage); an admin's message to <host>/announce/online reaches every online session as a
// headline, a non-admin's is refused.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testUsers } from '../helpers/contacts.js';
import { type El, Wire } from '../helpers/wire.js';

const PASS = 'motd-pass';
const MODULES = 'modules_enabled = { "roster"; "saslauth"; "tls"; "register"; "motd"; "welcome"; "announce" }';
const CONFIG = [
  MODULES,
  'allow_registration = true',
  'motd_text = [[\n    Maintenance on Sunday.\n    Back by noon.\n  ]]',
  'motd_jid = "news@localhost"',
  'welcome_message = "Hi $username, this is $host."',
].join('\n');

let ts: TestServer;
const { login, closeAll, open } = testUsers(() => ts, PASS);

beforeAll(async () => {
  ts = await startTestServer({ extra: CONFIG, hosts: 'VirtualHost "localhost"\n  admins = { "boss@localhost" }' });
  for (const u of ['dora', 'boss', 'fred']) await ts.addUser(u, PASS);
});
afterEach(closeAll);
afterAll(async () => {
  await ts?.stop();
});

const bodyOf = (el: El): string | undefined => (el.name === 'message' ? el.getChildText('body') : undefined);

it('sends the message of the day after the first available presence, once per session', async () => {
  const w = await login('dora');
  await new Promise((r) => setTimeout(r, 200));
  expect(w.received.some((el) => el.name === 'message')).toBe(false); // not before presence
  w.send('<presence/>');
  const motd = await w.waitFor((el) => el.name === 'message' && el.attrs.from === 'news@localhost');
  expect(bodyOf(motd)).toBe('Maintenance on Sunday.\nBack by noon.');
  expect(motd.attrs.to).toBe(w.jid);
  w.send('<presence><show>away</show></presence>');
  await new Promise((r) => setTimeout(r, 300));
  expect(w.received.filter((el) => el.name === 'message')).toHaveLength(1);
});

it('welcomes a new account with a message waiting at its first login', async () => {
  const reg = await Wire.open({ port: ts.port });
  open.push(reg);
  await reg.startTls();
  const done = await reg.iq(`<iq type='set' to='localhost'><query xmlns='jabber:iq:register'><username>eve</username><password>${PASS}</password></query></iq>`);
  expect(done.attrs.type).toBe('result');
  const w = await login('eve');
  w.send('<presence/>');
  const welcome = await w.waitFor((el) => el.name === 'message' && el.attrs.from === 'localhost');
  expect(bodyOf(welcome)).toBe('Hi eve, this is localhost.');
});

it('sends an admin\'s message to <host>/announce/online to every online session as a headline', async () => {
  const [boss, dora, fred] = await Promise.all([login('boss', 'desk'), login('dora', 'phone'), login('fred', 'laptop')]);
  const dora2 = await login('dora', 'tablet');
  boss.send("<message to='localhost/announce/online'><subject>Maintenance</subject><body>Down at 10:00 UTC.</body></message>");
  for (const w of [boss, dora, dora2, fred]) {
    const m = await w.waitFor((el) => el.name === 'message' && el.attrs.type === 'headline');
    expect(m.attrs.from).toBe('localhost');
    expect(m.attrs.to).toBe(w.jid);
    expect(bodyOf(m)).toBe('Down at 10:00 UTC.');
    expect(m.getChildText('subject')).toBe('Maintenance');
  }
  fred.send("<message id='no' to='localhost/announce/online'><body>spam</body></message>");
  const refused = await fred.waitFor((el) => el.name === 'message' && el.attrs.type === 'error' && el.attrs.id === 'no');
  expect(refused.getChild('error')?.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
  await new Promise((r) => setTimeout(r, 300));
  expect(dora.received.filter((el) => el.name === 'message' && el.attrs.type === 'headline')).toHaveLength(1);
});
