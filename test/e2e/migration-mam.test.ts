// Migration of the message archive from Prosody: a real Prosody (Debian's 0.12) with mod_mam
// archives a conversation between two of its users (both directions, one of them offline for a
// while, in two seconds of wall-clock time), the test reads Prosody's own view of each archive
// through MAM, then `node bin/clove.js import-prosody` moves the data into Clove. Clove's archive
// store must then hold the same messages in the same order, with Prosody's times, `with` = the
// other party's bare JID and the message itself as XML; a second import changes nothing.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prosodyAvailable } from '../helpers/prosody.js';
import { writeProsodyData, writeImportConfig } from '../helpers/prosody-import.js';
import { runClove } from '../helpers/child-server.js';
import { Wire, type El } from '../helpers/wire.js';
import { itemsOf, mamAll, mamQuery, type MamItem } from '../helpers/mam.js';
import { startTestServer } from '../helpers/server.js';
import { createFileBackend } from '../../src/storage/file.js';
import type { ArchiveItem } from '../../src/storage/store.js';
import { parseElement } from '../../src/xml/parse.js';
import type { Element } from '../../src/xml/element.js';

const DOMAIN = 'mam-migrate.test';
const ALICE = `alice@${DOMAIN}`;
const BOB = `bob@${DOMAIN}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a message says, whichever parser read it: the fields a client shows and deduplicates by. */
function gist(m: El | Element): Record<string, string | undefined> {
  const child = (name: string, ns?: string): El | Element | undefined => {
    for (const c of m.children) if (typeof c !== 'string' && c.name === name && (ns === undefined || c.attrs.xmlns === ns)) return c;
    return undefined;
  };
  const text = (e: El | Element | undefined): string | undefined => (e === undefined ? undefined : e.children.filter((c): c is string => typeof c === 'string').join(''));
  return {
    from: m.attrs.from,
    to: m.attrs.to,
    type: m.attrs.type,
    id: m.attrs.id,
    body: text(child('body')),
    subject: text(child('subject')),
    origin: child('origin-id', 'urn:xmpp:sid:0')?.attrs.id,
    receipt: child('request', 'urn:xmpp:receipts') ? 'request' : undefined,
  };
}

/** The other party of a message in `owner`'s archive. */
const otherOf = (m: El, owner: string): string => {
  const bare = (j: string | undefined): string => (j ?? '').split('/')[0] as string;
  return bare(m.attrs.from) === owner ? bare(m.attrs.to) : bare(m.attrs.from);
};

describe.skipIf(!prosodyAvailable())('clove import-prosody: the message archive of a real Prosody with mod_mam', () => {
  let work: string;
  let prosodyData: string;
  let cfg: string;
  /** Prosody's own view of each archive (its MAM answers), oldest first. */
  const expected: Record<string, MamItem[]> = {};
  const cloveData = (): string => join(work, 'clove', 'data');

  /** Clove's archive of `user`, read from the store the server will use. */
  async function cloveArchive(user: string): Promise<ArchiveItem[]> {
    const storage = createFileBackend(cloveData());
    try {
      const store = storage.archive(DOMAIN, 'archive');
      const out: ArchiveItem[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.query(user, { after, limit: 1000 });
        out.push(...page.items);
        if (page.complete || page.items.length === 0) return out;
        after = page.items[page.items.length - 1]!.id;
      }
    } finally {
      await storage.close();
    }
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'clove-migration-mam-'));
    const opts = {
      domain: DOMAIN,
      users: [{ user: 'alice', password: 'alice-pw' }, { user: 'bob', password: 'bob-pw' }],
      modules: ['mam', 'offline'],
      extra: ['archive_expires_after = "never"'],
    };
    prosodyData = await writeProsodyData(opts, work, async (prosody) => {
      const a = await Wire.login({ port: prosody.c2sPort, domain: DOMAIN, username: 'alice', password: 'alice-pw', resource: 'laptop', timeoutMs: 5000 });
      let b = await Wire.login({ port: prosody.c2sPort, domain: DOMAIN, username: 'bob', password: 'bob-pw', resource: 'phone', timeoutMs: 5000 });
      a.send('<presence/>');
      b.send('<presence/>');
      // First second: a conversation both ways, with text that needs escaping in Lua and in XML.
      for (let i = 0; i < 6; i++) {
        a.send(`<message to='${BOB}' type='chat' id='a${i}'><body>from alice #${i}: "quotes" &amp; &lt;tags&gt; ünïcode 😀\nsecond line</body><origin-id xmlns='urn:xmpp:sid:0' id='oa${i}'/><request xmlns='urn:xmpp:receipts'/></message>`);
        await b.waitFor((e) => e.name === 'message' && e.attrs.id === `a${i}`);
        b.send(`<message to='${ALICE}/laptop' type='chat' id='b${i}'><body>reply #${i}</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
        await a.waitFor((e) => e.name === 'message' && e.attrs.id === `b${i}`);
      }
      // Not archived by Prosody, so not imported either.
      a.send(`<message to='${BOB}' type='chat' id='nostore'><body>off the record</body><no-store xmlns='urn:xmpp:hints'/></message>`);
      await b.waitFor((e) => e.name === 'message' && e.attrs.id === 'nostore');
      await b.close();
      // A later second (Prosody 0.12 stores whole seconds): bob is offline, his archive still grows.
      await sleep(1100);
      a.send(`<message to='${BOB}' id='n1'><subject>while you were away</subject><body>a normal message</body></message>`);
      a.send(`<message to='${BOB}' type='chat' id='a-off'><body>are you there?</body></message>`);
      await a.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
      b = await Wire.login({ port: prosody.c2sPort, domain: DOMAIN, username: 'bob', password: 'bob-pw', resource: 'phone', timeoutMs: 5000 });
      expected.alice = await mamAll(a);
      expected.bob = await mamAll(b);
      await a.close();
      await b.close();
    });
    cfg = await writeImportConfig(work, cloveData(), DOMAIN);
  }, 40_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('Prosody archived what the test sent (the fixture is real)', () => {
    expect(expected.alice!.length).toBe(14);
    expect(expected.bob!.length).toBe(14);
    expect(expected.alice!.some((i) => i.message.attrs.id === 'nostore')).toBe(false);
    // At least the two seconds the test waited between (the first burst may itself straddle a second).
    expect(new Set(expected.alice!.map((i) => i.when)).size).toBeGreaterThanOrEqual(2);
  });

  it('--dry-run counts the archived messages and writes nothing', async () => {
    const r = await runClove(['import-prosody', prosodyData, '--dry-run', '--config', cfg]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${DOMAIN}: would import 2 accounts, 0 roster, 0 vcard, 0 private, 1 offline, 2 archive (28 archived messages)`);
    expect(await cloveArchive('alice')).toEqual([]);
  });

  it('imports each archive in order, with Prosody\'s times, the other party as `with`, and the message as XML', async () => {
    const r = await runClove(['import-prosody', prosodyData, '--config', cfg]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${DOMAIN}: imported 2 accounts, 0 roster, 0 vcard, 0 private, 1 offline, 2 archive (28 archived messages)`);
    for (const [user, owner] of [['alice', ALICE], ['bob', BOB]] as const) {
      const got = await cloveArchive(user);
      const want = expected[user]!;
      expect(got.map((i) => i.when)).toEqual(want.map((i) => i.when));
      expect(got.map((i) => i.with)).toEqual(want.map((i) => otherOf(i.message, owner)));
      const parsed = got.map((i) => parseElement(i.payload as string));
      expect(parsed.map(gist)).toEqual(want.map((i) => gist(i.message)));
      for (const m of parsed) {
        expect(m.name).toBe('message');
        // Prosody's storage bookkeeping stays behind; so does the chat state mod_mam leaves out.
        expect(m.attrs.stamp).toBeUndefined();
        expect(m.toString()).not.toContain('chatstates');
      }
    }
    const first = parseElement((await cloveArchive('alice'))[0]!.payload as string);
    expect(first.getChildText('body')).toBe('from alice #0: "quotes" & <tags> ünïcode 😀\nsecond line');
  });

  it('the imported history pages through MAM on Clove as it did on Prosody', async () => {
    const server = await startTestServer({ storage: 'file', dir: join(work, 'clove'), hosts: `VirtualHost "${DOMAIN}"` });
    try {
      for (const [user, owner] of [['alice', ALICE], ['bob', BOB]] as const) {
        const w = await Wire.login({ port: server.port, domain: DOMAIN, username: user, password: `${user}-pw`, timeoutMs: 10_000 });
        // Pages of 5, so paging crosses the messages of both seconds.
        const got = await mamAll(w, {}, 5);
        const want = expected[user]!;
        expect(got.map((i) => i.when)).toEqual(want.map((i) => i.when));
        expect(got.map((i) => gist(i.message))).toEqual(want.map((i) => gist(i.message)));
        expect(new Set(got.map((i) => i.id)).size).toBe(want.length);
        const other = owner === ALICE ? BOB : ALICE;
        expect((await mamAll(w, { with: other }, 50)).map((i) => i.id)).toEqual(got.map((i) => i.id));
        const last = await mamQuery(w, { max: 3, before: '' });
        expect(itemsOf(last).map((i) => gist(i.message))).toEqual(want.slice(-3).map((i) => gist(i.message)));
        await w.close();
      }
    } finally {
      await server.stop();
    }
  });

  it('a second import changes nothing', async () => {
    const before = await cloveArchive('bob');
    const r = await runClove(['import-prosody', prosodyData, '--config', cfg]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${DOMAIN}: imported 0 accounts, 0 roster, 0 vcard, 0 private, 0 offline, 0 archive (0 archived messages)`);
    expect(r.stdout).toContain('2 archive; skipped 0');
    expect(await cloveArchive('bob')).toEqual(before);
  });
});
