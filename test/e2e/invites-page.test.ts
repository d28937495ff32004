// The invitation page (module invites_page) over real HTTP with registration closed: the
// admin's invitation names the page at the operator's I2P URL (http_external_url, never
// loopback); the page is self-contained (no script, no outside resource), uncached, and shows
// the xmpp: link and how to connect through I2P; its form creates the account (subscribed both
// ways with the inviter), refusing a cross-site post, a wrong content type, differing passwords,
// a taken name and an oversized body; a used, expired or unknown token gets one and the same 404;
// after too many wrong tokens every token gets 429.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testUsers } from '../helpers/contacts.js';
import { httpCall, type HttpAnswer } from '../helpers/http.js';
import type { El } from '../helpers/wire.js';
import { TestClock } from '../helpers/mam.js';
import { createInvites } from '../../src/modules/invites/invites.js';

const NS_CMD = 'http://jabber.org/protocol/commands';
const NS_ROSTER = 'jabber:iq:roster';
const PASS = 'page-pass';
const EXTERNAL = 'http://inviteabcdefghijklmnop.b32.i2p';
const MODULES = 'modules_enabled = { "roster"; "saslauth"; "tls"; "register"; "adhoc"; "invites"; "invites_adhoc"; "invites_register"; "invites_page" }';
const FORM = 'application/x-www-form-urlencoded';

const clock = new TestClock();
let ts: TestServer;
const { login, closeAll } = testUsers(() => ts, PASS);

beforeAll(async () => {
  ts = await startTestServer({
    http: true,
    extra: [MODULES, `http_external_url = "${EXTERNAL}/"`].join('\n'),
    hosts: 'VirtualHost "localhost"\n  admins = { "boss@localhost" }',
    extraModules: [createInvites(clock)],
  });
  await ts.addUser('boss', PASS);
}, 30_000);
afterEach(closeAll);
afterAll(async () => {
  await ts?.stop();
});

/** An invitation from the admin's ad-hoc command: its page URL and xmpp: URI. */
async function invitation(node = 'urn:xmpp:invite#invite'): Promise<{ url: string; uri: string; path: string }> {
  const boss = await login('boss');
  const iq = await boss.iq(`<iq type='set' to='localhost'><command xmlns='${NS_CMD}' node='${node}' action='execute'/></iq>`);
  const fields = iq.getChild('command', NS_CMD)?.getChild('x', 'jabber:x:data')?.getChildren('field') ?? [];
  const value = (name: string): string => fields.find((f: El) => f.attrs.var === name)?.getChildText('value') ?? '';
  const url = value('landing-url');
  return { url, uri: value('uri'), path: url.slice(EXTERNAL.length) };
}

const get = (path: string): Promise<HttpAnswer> => httpCall(ts.httpPort, 'GET', path, { host: 'inviteabcdefghijklmnop.b32.i2p' });
const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
  httpCall(ts.httpPort, 'POST', path, { host: 'inviteabcdefghijklmnop.b32.i2p', headers: { 'Content-Type': FORM, ...headers }, body: new URLSearchParams(fields).toString() });

it('serves the invitation at the operator\'s I2P URL: a self-contained page with the xmpp: link and I2P instructions', async () => {
  const { url, uri, path } = await invitation();
  expect(url).toMatch(new RegExp(`^${EXTERNAL.replace(/\./g, '\\.')}/invite/[A-Za-z0-9_-]{36}$`));
  expect(url).not.toMatch(/127\.0\.0\.1|localhost/);
  const r = await get(path);
  expect(r.status).toBe(200);
  const html = r.body.toString('utf8');
  expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.headers['content-security-policy']).toContain("default-src 'none'");
  expect(html).toContain(`href="${uri.replace(/&/g, '&#38;')}"`);
  expect(html).toContain('boss@localhost invites you');
  expect(html).toMatch(/tunnels\.conf/);
  expect(html).toMatch(/SOCKS/);
  expect(html).toMatch(/<form method="post"/);
  // Nothing loaded from anywhere: no script, no image, no stylesheet link, no http(s) URL.
  expect(html).not.toMatch(/<script|<img|<link|<iframe|https?:\/\//i);
  // HEAD answers without a body.
  const head = await httpCall(ts.httpPort, 'HEAD', path, { host: 'localhost' });
  expect(head.status).toBe(200);
  expect(head.body.length).toBe(0);
});

it('creates the account with the form (registration closed), subscribed both ways with the inviter; the token is then used up', async () => {
  const { path } = await invitation();
  // Refused without creating anything.
  expect((await post(path, { username: 'webby', password: 'a', password2: 'a' }, { Origin: 'http://evil.b32.i2p' })).status).toBe(403);
  expect((await post(path, { username: 'webby', password: 'a', password2: 'a' }, { 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
  expect((await httpCall(ts.httpPort, 'POST', path, { host: 'localhost', headers: { 'Content-Type': 'text/plain' }, body: 'username=webby' })).status).toBe(415);
  const differ = await post(path, { username: 'webby', password: PASS, password2: 'other' });
  expect(differ.status).toBe(400);
  expect(differ.body.toString()).toContain('The two passwords differ.');
  expect(differ.body.toString()).not.toContain(PASS);
  const taken = await post(path, { username: 'boss', password: PASS, password2: PASS });
  expect(taken.status).toBe(409);
  const big = await httpCall(ts.httpPort, 'POST', path, { host: 'localhost', headers: { 'Content-Type': FORM }, body: `username=${'x'.repeat(20_000)}` });
  expect(big.status).toBe(413);
  expect(await ts.server.hosts.get('localhost')!.accounts.exists('webby')).toBe(false);

  const done = await post(path, { username: 'webby', password: PASS, password2: PASS }, { Origin: EXTERNAL });
  expect(done.status, done.body.toString()).toBe(201);
  expect(done.body.toString()).toContain('webby@localhost');
  const webby = await login('webby');
  const iq = await webby.iq(`<iq type='get'><query xmlns='${NS_ROSTER}'/></iq>`);
  expect(iq.getChild('query', NS_ROSTER)?.getChildren('item').map((i) => `${i.attrs.jid} ${i.attrs.subscription}`)).toEqual(['boss@localhost both']);

  const used = await get(path);
  expect(used.status).toBe(404);
  expect((await post(path, { username: 'webby2', password: PASS, password2: PASS })).status).toBe(404);
  expect(await ts.server.hosts.get('localhost')!.accounts.exists('webby2')).toBe(false);
  // Unknown and used look the same.
  const unknown = await get(`/invite/${'A'.repeat(36)}`);
  expect(unknown.status).toBe(404);
  expect(unknown.body.equals(used.body)).toBe(true);
});

it('an expired invitation gets the same 404 page', async () => {
  const { path } = await invitation('urn:xmpp:invite#create-account');
  expect((await get(path)).status).toBe(200);
  await clock.advance(7 * 86_400_000 + 1000);
  const r = await get(path);
  expect(r.status).toBe(404);
  expect(r.body.toString()).toContain('This invitation is not valid');
  expect((await post(path, { username: 'late', password: PASS, password2: PASS })).status).toBe(404);
});

it('answers 429 with Retry-After to every token once the host has seen too many wrong ones', async () => {
  const { path } = await invitation('urn:xmpp:invite#create-account');
  const statuses: number[] = [];
  for (let i = 0; i < 32; i++) statuses.push((await get(`/invite/${String(i).padStart(36, 'Z')}`)).status);
  // 404 until the budget (30 a minute, some spent by the tests above) runs out, then 429.
  const first = statuses.indexOf(429);
  expect(first).toBeGreaterThan(20);
  expect(statuses.slice(0, first).every((s) => s === 404)).toBe(true);
  expect(statuses.slice(first).every((s) => s === 429)).toBe(true);
  const valid = await get(path);
  expect(valid.status).toBe(429);
  expect(Number(valid.headers['retry-after'])).toBeGreaterThan(0);
  expect(valid.body.toString()).toContain('Too many attempts');
});
