// Accounts and contacts for end-to-end tests with raw clients: fresh accounts logged in on a
// test server (closed together by closeAll), a ping round trip to know the server has handled
// everything sent so far, and two users made contacts of each other (RFC 6121 §3).
//
//   let ts: TestServer;
//   const { login, user, closeAll } = testUsers(() => ts, 'secret');
//   afterEach(closeAll);
//   const alice = await user('alice');
//   const bob = await user('bob');
//   await friends(alice, bob);
import { expect } from 'vitest';
import { Wire, match } from './wire.js';
import type { TestServer } from './server.js';

/** Accounts on one test server, all with the same password, and the raw clients logged in to them. */
export interface TestUsers {
  /** Every client logged in through login() or user() (push others to close them too). */
  readonly open: Wire[];
  /** Create the account `${prefix}${n}` (n counts up per testUsers()); returns its username. */
  account(prefix: string): Promise<string>;
  /** Log `username` in (STARTTLS, SASL, bind `resource`, default 'r'), with the shared password unless `pass` is given. */
  login(username: string, resource?: string, pass?: string): Promise<Wire>;
  /** A new account logged in as resource 'r'. */
  user(prefix: string): Promise<Wire>;
  /** Close every open client and forget them (an afterEach). */
  closeAll(): Promise<void>;
}

/**
 * Accounts on `server()` with `password`. The server is a function because tests start it in
 * beforeAll, after this is called.
 */
export function testUsers(server: () => TestServer, password: string): TestUsers {
  const open: Wire[] = [];
  let n = 0;
  const account = async (prefix: string): Promise<string> => {
    const name = `${prefix}${++n}`;
    await server().addUser(name, password);
    return name;
  };
  const login = async (username: string, resource = 'r', pass = password): Promise<Wire> => {
    const c = await Wire.login({ port: server().port, username, password: pass, resource });
    open.push(c);
    return c;
  };
  return {
    open,
    account,
    login,
    user: async (prefix) => login(await account(prefix)),
    closeAll: async () => {
      await Promise.all(open.map((c) => c.close()));
      open.length = 0;
    },
  };
}

/** Round trip: every stanza the client sent before has been handled by the server. */
export async function settle(c: Wire): Promise<void> {
  const r = await c.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
  expect(r.attrs.type).toBe('result');
}

export interface FriendsOptions {
  /**
   * Wait for each side's `subscribed` before the contact's available presence that follows it
   * (§3.1.5); default true. With false only the available presence is waited for.
   */
  awaitSubscribed?: boolean;
}

/**
 * Both available, then mutual subscription (RFC 6121 §3); inboxes cleared. A client that has
 * already had its own presence back is not sent initial presence again.
 */
export async function friends(a: Wire, b: Wire, opts: FriendsOptions = {}): Promise<void> {
  const { awaitSubscribed = true } = opts;
  for (const c of [a, b]) {
    if (!c.received.some((e) => e.name === 'presence' && e.attrs.from === c.jid)) c.send('<presence/>');
    await settle(c);
  }
  for (const [x, y] of [[a, b], [b, a]] as const) {
    x.send(`<presence to='${y.bare}' type='subscribe'/>`);
    await y.waitFor(match('presence', { from: x.bare, type: 'subscribe' }));
    y.send(`<presence to='${x.bare}' type='subscribed'/>`);
    if (awaitSubscribed) await x.waitFor(match('presence', { from: y.bare, type: 'subscribed' }));
    // Once subscribed, the contact's available presence follows (§3.1.5).
    await x.waitFor(match('presence', { from: y.jid }));
  }
  await settle(a);
  await settle(b);
  a.clear();
  b.clear();
}
