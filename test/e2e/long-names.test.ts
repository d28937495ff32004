// Long but valid JIDs against a real child server with file storage (issue 9, item 8): a
// localpart of 200 × "é" (400 bytes, 1200 once percent-encoded: past NAME_MAX) registers in band,
// logs in, keeps a roster entry across a restart, and `clove adduser` finds it taken.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { removeChildDir, startChild, runClove, type ChildServer } from '../helpers/child-server.js';
import { Wire, xmlEscape } from '../helpers/wire.js';

const LONG = 'é'.repeat(200);
const PASS = 'long-name-pass';
let srv: ChildServer;
const extra = 'allow_registration = true';

beforeAll(async () => {
  srv = await startChild({ extra });
}, 30_000);
afterAll(async () => {
  await srv?.kill();
  if (srv) await removeChildDir(srv.dir);
});

describe('a 200 × "é" localpart', () => {
  it('registers in band, logs in, and its data survives a restart', async () => {
    const c = await Wire.open({ port: srv.port, timeoutMs: 10_000 });
    await c.startTls();
    const r = await c.iq(`<iq type='set'><query xmlns='jabber:iq:register'><username>${xmlEscape(LONG)}</username><password>${PASS}</password></query></iq>`);
    expect(r.attrs.type, r.toString()).toBe('result');
    await c.close();

    const a = await Wire.login({ port: srv.port, username: LONG, password: PASS, resource: 'r', timeoutMs: 10_000 });
    expect(a.jid).toBe(`${LONG}@localhost/r`);
    const set = await a.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'/></query></iq>`);
    expect(set.attrs.type, set.toString()).toBe('result');
    await a.close();

    // Every name on disk fits a file name.
    for (const store of await readdir(join(srv.dataPath, 'localhost'))) {
      for (const f of await readdir(join(srv.dataPath, 'localhost', store))) expect(Buffer.byteLength(f)).toBeLessThanOrEqual(255);
    }
    await srv.kill();
    srv = await startChild({ dir: srv.dir });
    const b = await Wire.login({ port: srv.port, username: LONG, password: PASS, resource: 'r', timeoutMs: 10_000 });
    const roster = await b.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
    expect(roster.getChild('query')?.getChildren('item').map((i) => i.attrs.name)).toEqual(['Bob']);
    await b.close();

    // The operator's tools find the account by its real name.
    const again = await runClove(['--config', srv.configPath, 'adduser', `${LONG}@localhost`], 'x\nx\n');
    expect(again.stderr).toContain('already exists');
  }, 40_000);
});
