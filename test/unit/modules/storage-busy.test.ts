// Stanzas whose write storage refuses for now (StorageBusyError: too much waits for the database).
// Offline messages: the account itself (and its contacts) get resource-constraint, type wait; a
// stranger's message is dropped without an answer, as when the account's storage is full, so a
// stranger cannot tell an existing offline account from a missing one. In-band registration
// (XEP-0077): resource-constraint, type wait (try again later), not internal-server-error.
import { afterAll, expect, it } from 'vitest';
import { openSqlBackend } from '../../../src/storage/sql/backend.js';
import { freshSchema } from '../../helpers/postgres.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { settle } from '../../helpers/contacts.js';
import { match, stanzaErrorCondition, Wire } from '../../helpers/wire.js';

const PASSWORD = 'busy-pass';
const servers: TestServer[] = [];
const wires: Wire[] = [];
afterAll(async () => {
  for (const w of wires) await w.close();
  for (const s of servers) await s.stop();
});

it('answers resource-constraint to the account itself and nothing to a stranger when the offline store is busy', async () => {
  const opts = await freshSchema();
  const setup = await startTestServer({ storage: await openSqlBackend(opts) });
  await setup.addUser('alice', PASSWORD);
  await setup.addUser('bob', PASSWORD);
  await setup.stop();
  // The same database, with room for no offline list at all: every write of one is refused.
  // No mam: an archived message is the account's to read there, and its sender is told nothing.
  const srv = await startTestServer({ storage: await openSqlBackend(opts, { keyBytes: 4096, totalBytes: 200 }), extra: 'modules_disabled = { "mam" }' });
  servers.push(srv);
  const alice = await Wire.login({ port: srv.port, username: 'alice', password: PASSWORD, resource: 'r' });
  const bob = await Wire.login({ port: srv.port, username: 'bob', password: PASSWORD, resource: 'r' });
  wires.push(alice, bob);
  // Alice has no available resource (no presence sent): a message to her bare JID is for offline storage.
  const body = 'b'.repeat(300);
  const own = alice.waitFor(match('message', { id: 'own', type: 'error' }), 10_000);
  alice.send(`<message to='alice@localhost' type='chat' id='own'><body>${body}</body></message>`);
  const err = await own;
  expect(stanzaErrorCondition(err)).toBe('resource-constraint');
  expect(err.getChild('error')?.attrs.type).toBe('wait');
  bob.send(`<message to='alice@localhost' type='chat' id='stranger'><body>${body}</body></message>`);
  await settle(bob);
  await settle(alice);
  expect(bob.received.filter((e) => e.name === 'message')).toEqual([]);
});

const REGISTER_MODULES = 'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "register" }';

async function register(srv: TestServer, username: string): Promise<ReturnType<Wire['iq']>> {
  const c = await Wire.open({ port: srv.port });
  wires.push(c);
  await c.startTls();
  return c.iq(`<iq type='set'><query xmlns='jabber:iq:register'><username>${username}</username><password>busy pass</password></query></iq>`);
}

it('answers resource-constraint (wait) to a registration the busy store refuses, and a later one succeeds', async () => {
  const opts = await freshSchema();
  // Room for no account record at all: the write that creates one is refused.
  const busy = await startTestServer({ storage: await openSqlBackend(opts, { keyBytes: 4096, totalBytes: 50 }), extra: [REGISTER_MODULES, 'allow_registration = true'].join('\n') });
  servers.push(busy);
  const refused = await register(busy, 'newcomer');
  expect(refused.attrs.type).toBe('error');
  expect(stanzaErrorCondition(refused)).toBe('resource-constraint');
  expect(refused.getChild('error')?.attrs.type).toBe('wait');
  expect(await busy.server.hosts.get(busy.domain)!.accounts.exists('newcomer')).toBe(false);
  await busy.stop();
  servers.pop();

  // The same database once the store has room: the client's retry makes the account.
  const calm = await startTestServer({ storage: await openSqlBackend(opts), extra: [REGISTER_MODULES, 'allow_registration = true'].join('\n') });
  servers.push(calm);
  const made = await register(calm, 'newcomer');
  expect(made.attrs.type).toBe('result');
  expect(await calm.server.hosts.get(calm.domain)!.accounts.exists('newcomer')).toBe(true);
});
