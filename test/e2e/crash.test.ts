// kill -9 in the middle of a write burst loses nothing that was acknowledged (docs/architecture.md, house rule 5):
// a real `clove start` child with file storage (and again with PostgreSQL storage), a client doing roster sets (one at a time, then
// pipelined so the kill lands mid-write), SIGKILL mid-burst, a new child on the same data
// directory, and the roster read back. Leftover .tmp files are allowed: the restarted server
// must (and does, below) serve everything with them present.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { type El, match, Wire } from '../helpers/wire.js';
import { CHILD_STORAGES } from '../helpers/postgres.js';

const NS_ROSTER = 'jabber:iq:roster';
const USER = 'crash';
const PASSWORD = 'crash-pass';
const VCARD = `<vCard xmlns='vcard-temp'><FN>Crash Tëst</FN><NICKNAME>crashy</NICKNAME><NOTE>set right before kill -9</NOTE></vCard>`;

const dirs: string[] = [];
const children: ChildServer[] = [];

/** A fresh child with the test account, storing with `extra`'s storage lines. */
async function freshChild(extra: string): Promise<ChildServer> {
  const c = await startChild(extra ? { extra } : {});
  children.push(c);
  dirs.push(c.dir);
  await addUsers(c.configPath, [[`${USER}@localhost`, PASSWORD]]);
  return c;
}

/** A new child on an existing data directory. */
async function restart(dir: string): Promise<ChildServer> {
  const c = await startChild({ dir });
  children.push(c);
  return c;
}

afterAll(async () => {
  for (const c of children) await c.kill('SIGKILL');
  for (const d of dirs) await removeChildDir(d);
});

const itemXml = (i: number): string =>
  `<item jid='contact${i}@example.net' name='Contact ${i} ü'><group>Crash</group><group>G${i % 7}</group></item>`;

/** Every file under the data dir: .json files must parse; returns the leftover .tmp files. */
async function checkFiles(root: string): Promise<{ json: number; tmp: string[]; other: string[] }> {
  const out = { json: 0, tmp: [] as string[], other: [] as string[] };
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.json')) {
        const text = await readFile(p, 'utf8');
        expect(() => JSON.parse(text), `${p} is not whole JSON: ${JSON.stringify(text.slice(0, 200))}`).not.toThrow();
        out.json++;
      } else if (e.name.endsWith('.tmp')) out.tmp.push(p);
      // Written once at the first start (src/sasl/server-secret.ts), whole or not at all.
      else if (e.name === 'server-secret' && d === root) expect(await readFile(p, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
      else out.other.push(p);
    }
  };
  await walk(root);
  return out;
}

interface Burst { acked: number[]; unacked: number[]; vcardAcked: boolean; exit: { code: number | null; signal: string | null } }

/**
 * Roster sets from..to, each awaited; after `killAfter` acks a vCard set (awaited), then one more
 * roster set is written and the child is SIGKILLed while it is in flight.
 */
async function burstAndKill(child: ChildServer, c: Wire, from: number, to: number, killAfter: number): Promise<Burst> {
  const acked: number[] = [];
  const unacked: number[] = [];
  let vcardAcked = false;
  let killed: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  for (let i = from; i <= to; i++) {
    const id = `rs${i}`;
    const reply = c.waitFor(match('iq', { id }, (e) => e.attrs.type === 'result' || e.attrs.type === 'error'));
    c.send(`<iq type='set' id='${id}'><query xmlns='jabber:iq:roster'>${itemXml(i)}</query></iq>`);
    // Item i is in flight right now.
    if (killed === undefined && vcardAcked) killed = child.kill('SIGKILL');
    let r: El;
    try {
      r = await reply;
    } catch {
      unacked.push(i);
      break; // the connection died with the server
    }
    expect(r.attrs.type, `roster set ${i}: ${r.toString()}`).toBe('result');
    acked.push(i);
    if (acked.length === killAfter) {
      const v = await c.iq(`<iq type='set'>${VCARD}</iq>`);
      expect(v.attrs.type, v.toString()).toBe('result');
      vcardAcked = true;
    }
  }
  expect(killed, 'the burst ended before the kill').toBeDefined();
  const exit = await killed!;
  return { acked, unacked, vcardAcked, exit };
}

/**
 * Roster sets from..to written all at once (many in flight, so the server is in the middle of
 * writing files), SIGKILL as soon as `killAfter` of them are acknowledged.
 */
async function pipelinedBurstAndKill(child: ChildServer, c: Wire, from: number, to: number, killAfter: number): Promise<Burst> {
  const acked: number[] = [];
  const unacked: number[] = [];
  let killed: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  const replies: Promise<void>[] = [];
  let batch = '';
  for (let i = from; i <= to; i++) {
    const id = `rp${i}`;
    replies.push(
      c.waitFor(match('iq', { id }, (e) => e.attrs.type === 'result' || e.attrs.type === 'error'), 10_000).then(
        (r) => {
          expect(r.attrs.type, `roster set ${i}: ${r.toString()}`).toBe('result');
          acked.push(i);
          if (acked.length === killAfter) killed = child.kill('SIGKILL');
        },
        () => void unacked.push(i),
      ),
    );
    batch += `<iq type='set' id='${id}'><query xmlns='jabber:iq:roster'>${itemXml(i)}</query></iq>`;
  }
  c.send(batch);
  await Promise.all(replies);
  expect(killed, 'every set was acknowledged before the kill').toBeDefined();
  const exit = await killed!;
  return { acked, unacked, vcardAcked: false, exit };
}

async function fetchRoster(c: Wire): Promise<Map<string, El>> {
  const reply = await c.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
  expect(reply.attrs.type, `roster get: ${reply.toString()}`).toBe('result');
  const items = reply.getChild('query', NS_ROSTER)?.getChildren('item') ?? [];
  return new Map(items.map((it) => [it.attrs.jid!, it]));
}

function expectItems(roster: Map<string, El>, acked: number[]): void {
  const missing = acked.filter((i) => !roster.has(`contact${i}@example.net`));
  expect(missing, `acknowledged roster items lost after kill -9`).toEqual([]);
  for (const i of acked) {
    const it = roster.get(`contact${i}@example.net`)!;
    expect(it.attrs.name).toBe(`Contact ${i} ü`);
    expect(it.getChildren('group').map((g) => g.text()).sort()).toEqual(['Crash', `G${i % 7}`].sort());
  }
}

describe.each(CHILD_STORAGES)('%s storage', (name, storageLines) => {
  it('acknowledged roster items and vCard survive SIGKILL mid-burst; only whole JSON files remain', async () => {
    // Round 1: items 1..300, kill after 100 acks.
    const c1 = await freshChild(await storageLines());
    const w1 = await Wire.login({ port: c1.port, username: USER, password: PASSWORD, resource: 'burst' });
    const r1 = await burstAndKill(c1, w1, 1, 300, 100);
    w1.destroy();
    expect(r1.exit.signal).toBe('SIGKILL');
    expect(r1.vcardAcked).toBe(true);
    expect(r1.acked.length).toBeGreaterThanOrEqual(100);
    expect(r1.acked.length).toBeLessThan(300);

    if (name === 'file') {
      const files1 = await checkFiles(c1.dataPath);
      expect(files1.other, 'unexpected files in the data dir').toEqual([]);
      expect(files1.json).toBeGreaterThan(0);
    } else {
      // Nothing of the host's stores on disk: the roster and vCard went to the database.
      expect((await checkFiles(c1.dataPath)).json).toBe(0);
    }

    // Restart on the same data dir; leftover .tmp files must not disturb it.
    const c2 = await restart(c1.dir);
    const w2 = await Wire.login({ port: c2.port, username: USER, password: PASSWORD, resource: 'after' });
    const roster = await fetchRoster(w2);
    expectItems(roster, r1.acked);
    // Nothing that was never sent shows up; the in-flight item may or may not have made it.
    for (const jid of roster.keys()) {
      const n = Number(/^contact(\d+)@example\.net$/.exec(jid)?.[1]);
      expect(n >= 1 && n <= r1.acked[r1.acked.length - 1]! + 1, `unexpected item ${jid}`).toBe(true);
    }
    const vcard = await w2.iq(`<iq type='get'><vCard xmlns='vcard-temp'/></iq>`);
    expect(vcard.attrs.type, `vCard get: ${vcard.toString()}`).toBe('result');
    const v = vcard.getChild('vCard', 'vcard-temp')!;
    expect(v.getChildText('FN')).toBe('Crash Tëst');
    expect(v.getChildText('NICKNAME')).toBe('crashy');
    expect(v.getChildText('NOTE')).toBe('set right before kill -9');

    // Round 2: 200 sets pipelined; kill as soon as 10 are acknowledged, mid-write.
    const r2 = await pipelinedBurstAndKill(c2, w2, 1001, 1200, 10);
    w2.destroy();
    expect(r2.exit.signal).toBe('SIGKILL');
    const files2 = name === 'file' ? await checkFiles(c2.dataPath) : { tmp: [], other: [] };
    expect(files2.other).toEqual([]);

    const c3 = await restart(c1.dir);
    const w3 = await Wire.login({ port: c3.port, username: USER, password: PASSWORD, resource: 'final' });
    const roster3 = await fetchRoster(w3);
    expectItems(roster3, [...r1.acked, ...r2.acked]);
    w3.destroy();
    // Temp files (if any) are debris the server ignored: it served everything above regardless.
    if (files2.tmp.length) console.info(`crash test: ${files2.tmp.length} .tmp leftover(s), ignored by the server: ${files2.tmp.join(', ')}`);
  }, 55_000);

  it('a burst of vCard sets killed mid-way keeps the last acknowledged vCard (or the one in flight)', async () => {
    const c1 = await freshChild(await storageLines());
    const w = await Wire.login({ port: c1.port, username: USER, password: PASSWORD, resource: 'vcards' });
    let lastAcked = 0;
    let killed: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
    for (let i = 1; i <= 300; i++) {
      const pending = w.waitFor(match('iq', { id: `v${i}` }));
      w.send(`<iq type='set' id='v${i}'><vCard xmlns='vcard-temp'><FN>Version ${i}</FN><NOTE>${'n'.repeat(i * 10)}</NOTE></vCard></iq>`);
      if (i === 101) killed = c1.kill('SIGKILL'); // 100 acknowledged, number 101 in flight
      let reply: El;
      try {
        reply = await pending;
      } catch {
        break;
      }
      expect(reply.attrs.type, reply.toString()).toBe('result');
      lastAcked = i;
    }
    w.destroy();
    expect((await killed!).signal).toBe('SIGKILL');
    expect(lastAcked).toBeGreaterThanOrEqual(100);
    if (name === 'file') expect((await checkFiles(c1.dataPath)).other).toEqual([]);

    const c2 = await restart(c1.dir);
    const w2 = await Wire.login({ port: c2.port, username: USER, password: PASSWORD, resource: 'check' });
    const got = await w2.iq(`<iq type='get'><vCard xmlns='vcard-temp'/></iq>`);
    expect(got.attrs.type, got.toString()).toBe('result');
    const fn = got.getChild('vCard', 'vcard-temp')?.getChildText('FN');
    expect([`Version ${lastAcked}`, `Version ${lastAcked + 1}`]).toContain(fn);
    const n = Number(fn?.slice('Version '.length));
    expect(got.getChild('vCard', 'vcard-temp')?.getChildText('NOTE')).toBe('n'.repeat(n * 10));
    w2.destroy();
  }, 30_000);
});
