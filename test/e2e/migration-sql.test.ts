// Migration from Prosody's SQL storage: a real Prosody (Debian's 0.12) configured with
// storage = "sql", on the test PostgreSQL (lua-dbi-postgresql) or on SQLite, Prosody's default
// driver (lua-dbi-sqlite3), writes accounts (prosodyctl register), a roster, a vCard, private XML,
// an offline message and its MAM archive into its own tables (`prosody`, `prosodyarchive`);
// `clove import-prosody --from-sql` reads them, and the users log in to Clove with their Prosody
// passwords and find the same data. From Prosody on SQLite the import goes into Clove on SQLite
// (a small server's whole move), from PostgreSQL into Clove's files.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { prosodyEncode } from '../../src/cli/import-prosody/data.js';
import { openSqlBackend } from '../../src/storage/sql/backend.js';
import type { StorageBackend } from '../../src/storage/store.js';
import { runClove } from '../helpers/child-server.js';
import { freshDatabase } from '../helpers/postgres.js';
import { mamAll } from '../helpers/mam.js';
import { writeImportConfig, writeProsodyData } from '../helpers/prosody-import.js';
import { startTestServer } from '../helpers/server.js';
import { match, Wire } from '../helpers/wire.js';

const DOMAIN = 'migrate-sql.test';
const NS_ROSTER = 'jabber:iq:roster';
const NS_VCARD = 'vcard-temp';
const works: string[] = [];

afterAll(async () => {
  for (const w of works) await rm(w, { recursive: true, force: true });
});

/** How Prosody is pointed at its database, and how the test sees that Prosody wrote there. */
interface Driver {
  name: string;
  /** Lines of Prosody's config: storage and sql. */
  prosodyLines(): Promise<string[]>;
  /** Prosody's data directory, copied after it stopped → the config `--from-sql` reads. */
  importConfig(prosodyData: string): string[];
  /** What shows Prosody wrote to the database, not to files. */
  checkWritten(prosodyData: string): Promise<void>;
  /** What the database holds that must never be printed. */
  secret?: string;
  /** Clove's own storage when not files: its config lines, and the backend on Clove's data_path. */
  clove?: { lines: string[]; open(dataPath: string): Promise<StorageBackend>; checkWritten(dataPath: string): void };
}

const postgres = (): Driver => {
  let line = '';
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  return {
    name: 'PostgreSQL',
    async prosodyLines() {
      db = await freshDatabase();
      line = `sql = { driver = "PostgreSQL"; database = "${db.database}"; host = "${db.host}"; port = ${db.port}; username = "${db.username}"; password = "${db.password}" }`;
      this.secret = db.password;
      return ['storage = "sql"', line];
    },
    importConfig: () => ['-- Only what the import reads: Prosody\'s sql option.', line],
    async checkWritten() {
      const client = new pg.Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
      await client.connect();
      const stores = (await client.query<{ store: string }>('SELECT DISTINCT store FROM prosody ORDER BY store')).rows.map((r) => r.store);
      const archived = (await client.query<{ store: string }>('SELECT store FROM prosodyarchive ORDER BY store')).rows.map((r) => r.store);
      await client.end();
      expect(stores).toEqual(expect.arrayContaining(['accounts', 'private', 'roster', 'vcard']));
      expect(archived).toEqual(['archive', 'archive', 'offline']); // alice's and bob's MAM archives, bob's offline message
    },
  };
};

// Prosody's default: storage = "sql" with no sql option is SQLite3, prosody.sqlite in data_path.
const sqlite = (): Driver => ({
  name: 'SQLite3',
  prosodyLines: async () => ['storage = "sql"'],
  importConfig: (prosodyData) => [`data_path = ${JSON.stringify(prosodyData)}`, 'storage = "sql"'],
  async checkWritten(prosodyData) {
    expect(statSync(join(prosodyData, 'prosody.sqlite')).size).toBeGreaterThan(0);
    expect(existsSync(join(prosodyData, prosodyEncode(DOMAIN)))).toBe(false); // no files of the host at all
  },
  clove: {
    lines: ['storage = "sql"', 'sql = { driver = "SQLite3" }'],
    open: (dataPath) => openSqlBackend({ driver: 'SQLite3', database: join(dataPath, 'clove.sqlite') }),
    checkWritten(dataPath) {
      const db = new Database(join(dataPath, 'clove.sqlite'), { readonly: true });
      try {
        // ('@sha1-only' is the accounts store's own record of accounts without SCRAM-SHA-256 keys.)
        expect(db.prepare("SELECT username FROM clove_keyval WHERE store = 'accounts' ORDER BY username").all()).toEqual([{ username: '@sha1-only' }, { username: 'alice' }, { username: 'bob' }]);
        expect((db.prepare('SELECT count(*) AS n FROM clove_archive').get() as { n: number }).n).toBe(2);
      } finally {
        db.close();
      }
      expect(existsSync(join(dataPath, prosodyEncode(DOMAIN)))).toBe(false); // nothing of the host in files (named as Prosody names them)
    },
  },
});

it.each([postgres(), sqlite()])('imports accounts, roster, vCard, private XML, offline messages and archives from Prosody on $name', async (driver) => {
  const work = await mkdtemp(join(tmpdir(), 'clove-migration-sql-'));
  works.push(work);
  const prosodyLines = await driver.prosodyLines();
  const prosodyData = await writeProsodyData({
    domain: DOMAIN,
    extra: ['modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "vcard"; "presence"; "private"; "offline"; "mam" }', ...prosodyLines],
  }, work, async (prosody) => {
    for (const [user, password] of [['alice', 'alice-pw'], ['bob', 'bob pässword']]) {
      const reg = spawnSync('prosodyctl', ['--config', prosody.configPath, 'register', user!, DOMAIN, password!], { encoding: 'utf8', cwd: prosody.dir });
      if (reg.status !== 0) throw new Error(`prosodyctl register failed: ${reg.stdout}${reg.stderr}`);
    }
    const c = await Wire.login({ port: prosody.c2sPort, domain: DOMAIN, username: 'alice', password: 'alice-pw', timeoutMs: 5000 });
    const set = await c.iq(`<iq type='set'><query xmlns='${NS_ROSTER}'><item jid='bob@${DOMAIN}' name='Bob B'><group>Friends</group><group>Work</group></item></query></iq>`);
    expect(set.attrs.type).toBe('result');
    const vc = await c.iq(`<iq type='set'><vCard xmlns='${NS_VCARD}'><FN>Alice Liddell</FN><DESC>line one\nline "two" &amp; ünïcode</DESC></vCard></iq>`);
    expect(vc.attrs.type).toBe('result');
    const pv = await c.iq(`<iq type='set'><query xmlns='jabber:iq:private'><notes xmlns='storage:rosternotes'><note jid='bob@${DOMAIN}'>met at work</note></notes></query></iq>`);
    expect(pv.attrs.type).toBe('result');
    c.send(`<message to='bob@${DOMAIN}' type='chat' id='m1'><body>hello from prosody on sql</body></message>`);
    await c.iq(`<iq type='get'><query xmlns='${NS_ROSTER}'/></iq>`);
    await c.close();
  });
  // Prosody really wrote to the database.
  await driver.checkWritten(prosodyData);

  const prosodyCfg = join(work, 'prosody-sql.cfg.lua');
  await writeFile(prosodyCfg, driver.importConfig(prosodyData).join('\n') + '\n');
  const cloveData = join(work, 'clove', 'data');
  const cfg = await writeImportConfig(work, cloveData, DOMAIN, driver.clove?.lines);
  const r = await runClove(['import-prosody', '--from-sql', prosodyCfg, '--config', cfg]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`${DOMAIN}: imported 2 accounts, 1 roster, 1 vcard, 1 private, 1 offline, 2 archive (2 archived messages)`);
  expect(r.stdout).toMatch(driver.name === 'SQLite3' ? `read Prosody's SQLite database ${join(prosodyData, 'prosody.sqlite')}` : /read Prosody's PostgreSQL database clove_/);
  if (driver.secret) expect(r.stdout).not.toContain(driver.secret);
  driver.clove?.checkWritten(cloveData);

  const server = await startTestServer({ storage: driver.clove ? await driver.clove.open(cloveData) : 'file', dir: join(work, 'clove'), hosts: `VirtualHost "${DOMAIN}"` });
  try {
    const alice = await Wire.login({ port: server.port, domain: DOMAIN, username: 'alice', password: 'alice-pw', timeoutMs: 5000 });
    const roster = await alice.iq(`<iq type='get'><query xmlns='${NS_ROSTER}'/></iq>`);
    const items = roster.getChild('query', NS_ROSTER)!.getChildren('item').map((i) => [i.attrs.jid, i.attrs.name, i.getChildren('group').map((g) => g.text()).sort()]);
    expect(items).toEqual([[`bob@${DOMAIN}`, 'Bob B', ['Friends', 'Work']]]);
    const vcard = (await alice.iq(`<iq type='get'><vCard xmlns='${NS_VCARD}'/></iq>`)).getChild('vCard', NS_VCARD)!;
    expect(vcard.getChildText('FN')).toBe('Alice Liddell');
    expect(vcard.getChildText('DESC')).toBe('line one\nline "two" & ünïcode');
    const notes = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:private'><notes xmlns='storage:rosternotes'/></query></iq>`);
    expect(notes.getChild('query', 'jabber:iq:private')?.getChild('notes', 'storage:rosternotes')?.getChildText('note')).toBe('met at work');
    const archive = await mamAll(alice);
    expect(archive.map((i) => [i.message.attrs.to, i.message.getChildText('body')])).toEqual([[`bob@${DOMAIN}`, 'hello from prosody on sql']]);
    alice.destroy();
    const bob = await Wire.login({ port: server.port, domain: DOMAIN, username: 'bob', password: 'bob pässword', timeoutMs: 5000 });
    const offline = bob.waitFor(match('message', { id: 'm1' }), 10_000);
    bob.send('<presence/>');
    expect((await offline).getChildText('body')).toBe('hello from prosody on sql');
    const received = await mamAll(bob);
    expect(received.map((i) => [i.message.attrs.from?.split('/')[0], i.message.getChildText('body')])).toEqual([[`alice@${DOMAIN}`, 'hello from prosody on sql']]);
    bob.destroy();
  } finally {
    await server.stop();
  }
}, 60_000);
