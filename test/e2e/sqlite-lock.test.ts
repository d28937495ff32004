// A real `clove start` child on SQLite whose file another process holds locked for writing (as
// `sqlite3` left in a write transaction, or a very slow disk, would): SQLite runs on Clove's
// worker thread, so the server's event loop goes on answering pings at once while the writes
// wait; once the lock goes every change is acknowledged and is in the file. A write that waits
// longer than sql_statement_timeout fails with resource-constraint (type wait) instead of hanging.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { ping, stanzaErrorCondition, Wire } from '../helpers/wire.js';

const PASSWORD = 'lock-pass';
const children: ChildServer[] = [];
afterAll(async () => {
  for (const c of children) {
    await c.kill('SIGKILL');
    await removeChildDir(c.dir);
  }
});

const privateSet = (marker: string): string =>
  `<iq type='set'><query xmlns='jabber:iq:private'><data xmlns='clove:test'>${marker}</data></query></iq>`;

it('answers pings while another process holds the file locked; the waiting changes commit after, or get resource-constraint past the timeout', async () => {
  const child = await startChild({ extra: 'storage = "sql"\nsql = { driver = "SQLite3"; database = "locked.sqlite" }\nsql_statement_timeout = 4' });
  children.push(child);
  await addUsers(child.configPath, [['alice@localhost', PASSWORD]]);
  const w = await Wire.login({ port: child.port, username: 'alice', password: PASSWORD, resource: 'r' });
  const pinger = await Wire.login({ port: child.port, username: 'alice', password: PASSWORD, resource: 'p' });
  expect((await w.iq(privateSet('before'))).attrs.type).toBe('result');

  const file = path.join(child.dataPath, 'locked.sqlite');
  const locker = new Database(file, { timeout: 5000 });
  try {
    // Held for 2.5 s, under the 4 s timeout: the change waits, the pings do not. SQLite waiting
    // for the lock on the event loop would hold every ping until the lock went (2.5 s or more);
    // the bound below leaves room for a loaded test machine and still tells the two apart.
    locker.exec('BEGIN IMMEDIATE');
    const change = w.iq(privateSet('during'), 20_000);
    const started = Date.now();
    const pingMs: number[] = [];
    while (Date.now() - started < 2500) {
      const t = Date.now();
      expect((await ping(pinger, 2400)).attrs.type).toBe('result');
      pingMs.push(Date.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
    const early = await Promise.race([change.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waiting'), 10))]);
    expect(early).toBe('waiting'); // the write really waited for the lock
    locker.exec('COMMIT');
    expect((await change).attrs.type).toBe('result');
    expect(Math.max(...pingMs), `ping round trips while locked: ${pingMs.join(', ')} ms`).toBeLessThan(1500);
    const row = locker.prepare("SELECT value FROM clove_map WHERE store = 'private' AND username = 'alice'").get() as { value: string };
    expect(row.value).toContain('during');

    // Held past the timeout: the change fails with an error reply, and nothing of it stays.
    locker.exec('BEGIN IMMEDIATE');
    const late = await w.iq(privateSet('too-late'), 20_000);
    locker.exec('COMMIT');
    expect(late.attrs.type, late.toString()).toBe('error');
    expect(stanzaErrorCondition(late)).toBe('resource-constraint'); // temporary: try again later
    expect(late.getChild('error')?.attrs.type).toBe('wait');
    expect((await w.iq(`<iq type='get'><query xmlns='jabber:iq:private'><data xmlns='clove:test'/></query></iq>`)).toString()).toContain('during');
    expect((await w.iq(privateSet('after'))).attrs.type).toBe('result');
  } finally {
    if (locker.inTransaction) locker.exec('ROLLBACK');
    locker.close();
  }
  await Promise.all([w.close(), pinger.close()]);
}, 60_000);
