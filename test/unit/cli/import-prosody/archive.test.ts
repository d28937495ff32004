// The archive part of `clove import-prosody` (src/cli/import-prosody/archive.ts) on a file that
// Debian's Prosody 0.12 wrote with mod_mam (fixtures/prosody-0.12-archive-alice.list: alice
// sent bob a message with an origin-id, bob answered with a chat state, one second later) and on
// damaged or hostile variants of it.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listItems } from '../../../../src/config/lua/data-file.js';
import { ARCHIVE_IMPORT_FILE_MAX, archiveMarks, importArchiveFile, toArchived } from '../../../../src/cli/import-prosody/archive.js';
import { Skip } from '../../../../src/cli/import-prosody/data.js';
import { createMemoryBackend } from '../../../../src/storage/memory.js';
import type { ArchiveStore, KeyValStore, StorageBackend } from '../../../../src/storage/store.js';
import { parseElement } from '../../../../src/xml/parse.js';

const FIXTURE = join(__dirname, 'fixtures', 'prosody-0.12-archive-alice.list');
const OWNER = 'alice@mam.test';
const LIMITS = { maxItems: 10_000, maxBytes: 64 * 1024 * 1024 };

describe('Prosody archive items → Clove archive items', () => {
  it('reads the real file: times in ms, with = the other party, the message without Prosody\'s stamp', async () => {
    const items = [...listItems(await readFile(FIXTURE))].map((v) => toArchived(v, OWNER));
    expect(items.map((i) => [i.when, i.with])).toEqual([[1796422223000, 'bob@mam.test'], [1796422224000, 'bob@mam.test']]);
    const first = parseElement(items[0]!.payload);
    expect(first.attrs).toEqual({ xmlns: 'jabber:client', from: 'alice@mam.test/r1', to: 'bob@mam.test', type: 'chat', id: 'm1', 'xml:lang': 'en' });
    expect(first.getChildText('body')).toBe('hello "bob" & ünï\nline2');
    expect(first.getChild('origin-id', 'urn:xmpp:sid:0')?.attrs.id).toBe('o1');
    expect(parseElement(items[1]!.payload).getChildText('body')).toBe('hi alice');
  });

  const one = (body: string): ReturnType<typeof toArchived> => toArchived([...listItems(`item(${body});`)][0]!, OWNER);

  it('takes the time from the stamp, and the other party from from/to, when when/with are missing', () => {
    const m = one(`{ name = "message"; attr = { from = "carol@x.test/r"; to = "alice@mam.test"; stamp = "2024-01-02T03:04:05Z" }; { name = "body"; attr = {}; "hi" } }`);
    expect(m.when).toBe(Date.UTC(2024, 0, 2, 3, 4, 5));
    expect(m.with).toBe('carol@x.test');
    const out = one(`{ name = "message"; attr = { from = "alice@mam.test/r"; to = "dave@y.test/z" }; when = 1700000000.25 }`);
    expect([out.when, out.with]).toEqual([1700000000250, 'dave@y.test']);
  });

  it('gives an attribute in another namespace (Prosody: "namespace\\1name") a declared prefix', () => {
    const m = one(`{ name = "message"; attr = { from = "a@b.test"; ["urn:x:y\\1flag"] = "1" }; when = 1 }`);
    const el = parseElement(m.payload);
    expect(el.attrs['xmlns:ns1']).toBe('urn:x:y');
    expect(el.attrs['ns1:flag']).toBe('1');
  });

  it('refuses what is not an archivable message, saying why', () => {
    expect(() => one(`{ name = "presence"; attr = {}; when = 1; with = "a@b.test" }`)).toThrow('<presence/> is not a message');
    expect(() => one(`{ name = "message"; attr = {}; with = "a@b.test" }`)).toThrow('no time');
    expect(() => one(`{ name = "message"; attr = {}; when = 1; with = "a@b.test/res" }`)).toThrow('is not a bare JID');
    expect(() => one(`{ name = "message"; attr = {}; when = 1 }`)).toThrow('no with');
    expect(() => one(`{ name = "message"; attr = { ["bad name"] = "x" }; when = 1; with = "a@b.test" }`)).toThrow();
    expect(() => one(`{ name = "message"; attr = {}; when = 1; with = "a@b.test"; { name = "body"; attr = {}; "${'x'.repeat(1024 * 1024)}" } }`)).toThrow('larger than');
  });

  it('never runs code: a call or an expression in the file is a syntax error', () => {
    expect(() => [...listItems('os.execute("touch /tmp/pwned");')]).toThrow(/line 1: expected 'item\('/);
    expect(() => [...listItems('item({ when = os.time() });')]).toThrow(/line 1/);
  });
});

describe('importArchiveFile', () => {
  let dir: string;
  let storage: StorageBackend;
  let archive: ArchiveStore;
  let marks: KeyValStore<Partial<Record<'archive', string>>>;
  const run = (file: string, store: ArchiveStore = archive, limits = LIMITS, dryRun = false) =>
    importArchiveFile(file, 'alice', OWNER, store, archiveMarks(marks, 'alice', 'archive', dryRun), limits, dryRun);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clove-import-archive-'));
    storage = createMemoryBackend();
    archive = storage.archive('mam.test', 'archive');
    marks = storage.keyval('mam.test', 'import_prosody');
  });
  afterEach(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The fixture's two items followed by `n` more, one second apart. */
  async function longer(n: number): Promise<string> {
    const base = await readFile(FIXTURE, 'latin1');
    const more = Array.from({ length: n }, (_, i) => `item({ name = "message"; attr = { from = "bob@mam.test/r2"; to = "alice@mam.test"; type = "chat" }; { name = "body"; attr = {}; "n${i}" }; when = ${1796422300 + i}; with = "bob@mam.test"; key = "k${i}" });\n`);
    const file = join(dir, 'alice.list');
    await writeFile(file, base + more.join(''), 'latin1');
    return file;
  }
  const bodies = async (): Promise<string[]> => (await archive.query('alice')).items.map((i) => parseElement(i.payload as string).getChildText('body') ?? '');

  it('imports in order once; a second run is unchanged; a dry run writes nothing', async () => {
    const file = await longer(600);
    expect(await run(file, archive, LIMITS, true)).toMatchObject({ result: 'imported', messages: 602 });
    expect((await archive.metadata('alice')).count).toBe(0);
    expect(await run(file)).toEqual({ result: 'imported', messages: 602, skipped: [] });
    const b = await bodies();
    expect(b.slice(0, 2)).toEqual(['hello "bob" & ünï\nline2', 'hi alice']);
    expect(b.slice(2)).toEqual(Array.from({ length: 600 }, (_, i) => `n${i}`));
    expect(await run(file)).toEqual({ result: 'unchanged', messages: 0, skipped: [] });
    expect((await archive.metadata('alice')).count).toBe(602);
  });

  it('resumes an interrupted import without duplicates', async () => {
    const file = await longer(600);
    let left = 300;
    const failing: ArchiveStore = { ...archive, append: (o, item) => (left-- > 0 ? archive.append(o, item) : Promise.reject(new Error('disk gone'))) };
    await expect(run(file, failing)).rejects.toThrow('disk gone');
    const held = (await archive.metadata('alice')).count;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(602);
    expect(await run(file)).toMatchObject({ result: 'imported', messages: 602 - held });
    expect(await bodies()).toEqual(['hello "bob" & ünï\nline2', 'hi alice', ...Array.from({ length: 600 }, (_, i) => `n${i}`)]);
  });

  it('leaves a Clove archive that already has messages alone', async () => {
    await archive.append('alice', { with: 'x@y.test', payload: '<message/>' });
    await expect(run(FIXTURE)).rejects.toThrow(Skip);
    await expect(run(FIXTURE)).rejects.toThrow('Clove already has 1 archived messages');
  });

  it('keeps the newest messages that fit the per-user limits and says how many were left out', async () => {
    const file = await longer(10);
    const r = await run(file, archive, { maxItems: 5, maxBytes: LIMITS.maxBytes });
    expect(r.messages).toBe(5);
    expect(r.skipped).toEqual(["the 7 oldest of 12 messages: Clove's archive limits are 5 messages and 67108864 bytes per user"]);
    expect(await bodies()).toEqual(['n5', 'n6', 'n7', 'n8', 'n9']);
  });

  it('skips bad items with their number and reason, and imports the rest', async () => {
    const file = join(dir, 'alice.list');
    await writeFile(file, `${await readFile(FIXTURE, 'latin1')}item({ name = "iq"; attr = {}; when = 5; with = "bob@mam.test" });\n`, 'latin1');
    expect(await run(file)).toEqual({ result: 'imported', messages: 2, skipped: ['item 3: <iq/> is not a message'] });
  });

  it('refuses a torn or garbled file as a whole, naming the line, before appending anything', async () => {
    const text = await readFile(FIXTURE, 'latin1');
    const file = join(dir, 'alice.list');
    await writeFile(file, text.slice(0, text.length - 40), 'latin1');
    await expect(run(file)).rejects.toThrow(/^line \d+: /);
    await writeFile(file, text + 'item({ "\\192" });', 'latin1');
    await expect(run(file)).rejects.toThrow(/line \d+: string is not valid UTF-8/);
    expect((await archive.metadata('alice')).count).toBe(0);
  });

  it('refuses a file over the size bound without reading it', async () => {
    const file = join(dir, 'alice.list');
    await writeFile(file, '');
    await truncate(file, ARCHIVE_IMPORT_FILE_MAX + 1); // sparse: no disk used
    await expect(run(file)).rejects.toThrow('the import reads archive files of at most 256 MiB');
  });
});
