// `clove invite` end to end: a real `clove` child on file storage with registration closed; the
// command (a second process) writes invitations the running server accepts: an account
// invitation registers an account over XMPP, a contact invitation also subscribes the inviter
// and the invitee both ways; list shows what is pending, delete revokes it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addUsers, removeChildDir, runClove, startChild, type ChildServer } from '../helpers/child-server.js';
import { type El, Wire, xmlEscape } from '../helpers/wire.js';

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const PASS = 'cli-invite-pass';
const MODULES = 'modules_enabled = { "roster"; "saslauth"; "tls"; "register"; "invites"; "invites_register"; "invites_page" }';
const EXTERNAL = 'http://clicliclicliclicli.b32.i2p/';

let child: ChildServer;
const wires: Wire[] = [];

beforeAll(async () => {
  child = await startChild({ extra: `${MODULES}\nhttp_external_url = "${EXTERNAL}"`, http: true });
  await addUsers(child.configPath, [['boss@localhost', PASS]]);
}, 30_000);
afterAll(async () => {
  await Promise.all(wires.map((w) => w.close()));
  await child?.kill();
  if (child) await removeChildDir(child.dir);
});

const clove = (...args: string[]) => runClove(['--config', child.configPath, 'invite', ...args]);
const condition = (iq: El): string | undefined => iq.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS)?.name;

/** Give the token, then register `user`; resolves with the registration's reply. */
async function registerWith(token: string, user: string): Promise<El> {
  const w = await Wire.open({ port: child.port });
  wires.push(w);
  await w.startTls();
  const pre = await w.iq(`<iq type='set' to='localhost'><preauth xmlns='urn:xmpp:pars:0' token='${xmlEscape(token)}'/></iq>`);
  if (pre.attrs.type !== 'result') return pre;
  return w.iq(`<iq type='set' to='localhost'><query xmlns='jabber:iq:register'><username>${user}</username><password>${PASS}</password></query></iq>`);
}

const tokenOf = (uri: string): string => /preauth=([A-Za-z0-9_-]+)/.exec(uri)?.[1] ?? '';

it('clove invite create HOST prints an xmpp: URI whose token registers one account on the running server', async () => {
  const r = await clove('create', 'localhost');
  expect(r.code, r.stderr).toBe(0);
  const [uri = '', landing = ''] = r.stdout.split('\n');
  expect(uri).toMatch(/^xmpp:localhost\?register;preauth=[A-Za-z0-9_-]{36}$/);
  // The page at the operator's I2P URL, and it is served by the running server.
  expect(landing).toBe(`${EXTERNAL}invite/${tokenOf(uri)}`);
  const page = await fetch(`http://127.0.0.1:${child.httpPort}/invite/${tokenOf(uri)}`);
  expect(page.status).toBe(200);
  expect(r.stderr).toMatch(/valid until/);
  const listed = await clove('list', 'localhost');
  expect(listed.stdout).toContain(tokenOf(uri).slice(0, 12));
  expect(listed.stdout).not.toContain(tokenOf(uri)); // the secret is not stored

  // Registration is closed without a token…
  const closed = await registerWith('x'.repeat(36), 'nobody');
  expect(condition(closed)).toBe('item-not-found');
  // …and open with it, once.
  expect((await registerWith(tokenOf(uri), 'fromcli')).attrs.type).toBe('result');
  const w = await Wire.login({ port: child.port, username: 'fromcli', password: PASS });
  wires.push(w);
  expect(condition(await registerWith(tokenOf(uri), 'again'))).toBe('item-not-found');
  expect((await clove('list', 'localhost')).stdout).not.toContain(tokenOf(uri).slice(0, 12));
});

it('clove invite contact USER@HOST: the new account and USER are subscribed both ways', async () => {
  const r = await clove('contact', 'boss@localhost', '--expires-after', '2d');
  expect(r.code, r.stderr).toBe(0);
  const uri = r.stdout.split('\n')[0] as string;
  expect(uri).toMatch(/^xmpp:boss@localhost\?roster;preauth=[A-Za-z0-9_-]{36};ibr=y$/);
  expect((await registerWith(tokenOf(uri), 'friend')).attrs.type).toBe('result');
  const roster = async (user: string): Promise<string[]> => {
    const w = await Wire.login({ port: child.port, username: user, password: PASS });
    wires.push(w);
    const iq = await w.iq("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>");
    return (iq.getChild('query', 'jabber:iq:roster')?.getChildren('item') ?? []).map((i) => `${i.attrs.jid} ${i.attrs.subscription}`);
  };
  expect(await roster('friend')).toEqual(['boss@localhost both']);
  expect(await roster('boss')).toEqual(['friend@localhost both']);
});

it('clove invite delete revokes a pending invitation; bad use exits 1 with one line', async () => {
  const uri = (await clove('create', 'localhost')).stdout.split('\n')[0] as string;
  const id = tokenOf(uri).slice(0, 12);
  const del = await clove('delete', 'localhost', id);
  expect(del.code, del.stderr).toBe(0);
  expect(condition(await registerWith(tokenOf(uri), 'revoked'))).toBe('item-not-found');
  const bad = await clove('create', 'elsewhere.example');
  expect(bad.code).toBe(1);
  expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  expect(bad.stderr).toMatch(/not a VirtualHost/);
});
