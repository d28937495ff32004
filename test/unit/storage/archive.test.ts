// The archive store contract (XEP-0313 query shapes, RSM paging, limits, deletion), run against
// both backends; random queries are checked against a plain filter over every item.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eachBackend } from './backends.js';
import {
  ARCHIVE_QUERY_MAX,
  ArchiveItemNotFoundError,
  ArchiveQuotaError,
  StorageClosedError,
  type ArchiveItem,
  type ArchivePage,
  type ArchiveQuery,
  type ArchiveStore,
  type StorageBackend,
} from '../../../src/storage/store.js';

const backends = eachBackend('clove-archive-');

const T0 = Date.UTC(2026, 0, 1);

/** The page a query should give, computed by filtering every item (the reference). */
function expected(all: ArchiveItem[], q: ArchiveQuery): ArchivePage {
  const set = all.filter(
    (it) =>
      (q.with === undefined || (q.with.includes('/') ? it.with === q.with : it.with.split('/')[0] === q.with)) &&
      (q.start === undefined || it.when >= q.start) &&
      (q.end === undefined || it.when <= q.end) &&
      (q.ids === undefined || q.ids.includes(it.id)),
  );
  const pos = (id: string): number => all.findIndex((it) => it.id === id);
  let from = 0;
  let to = set.length;
  if (q.after !== undefined) from = set.filter((it) => pos(it.id) <= pos(q.after!)).length;
  if (typeof q.before === 'string') to = set.filter((it) => pos(it.id) < pos(q.before as string)).length;
  to = Math.max(from, to);
  const limit = Math.min(q.limit ?? ARCHIVE_QUERY_MAX, ARCHIVE_QUERY_MAX);
  const first = q.before !== undefined ? Math.max(from, to - limit) : from;
  const last = q.before !== undefined ? to : Math.min(to, from + limit);
  const complete = q.before !== undefined ? first === from : last === to;
  return { items: set.slice(first, last), count: set.length, index: first, complete };
}

describe.each(backends)('%s backend: archive', (_name, make) => {
  let b: StorageBackend;
  let a: ArchiveStore;
  beforeEach(async () => {
    b = await make();
    a = b.archive('localhost', 'archive', { maxItems: 100_000 });
  });
  afterEach(async () => {
    await b.close();
  });

  /** Append n items for `owner`, one second apart from `t`, cycling through `withs`. */
  async function fill(owner: string, n: number, withs: string[], t = T0): Promise<ArchiveItem[]> {
    const out: ArchiveItem[] = [];
    for (let i = 0; i < n; i++) {
      const item = { with: withs[i % withs.length]!, payload: `<message id='m${i}'><body>${i}</body></message>`, when: t + i * 1000 };
      out.push({ id: await a.append(owner, item), when: item.when, with: item.with, payload: item.payload });
    }
    return out;
  }

  it('an empty archive gives an empty, complete page and no metadata', async () => {
    expect(await a.query('nobody')).toEqual({ items: [], count: 0, index: 0, complete: true });
    expect(await a.metadata('nobody')).toEqual({ count: 0, bytes: 0 });
    expect(await a.get('nobody', 'AAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
    await expect(a.query('nobody', { after: 'AAAAAAAAAAAAAAAAAAAAAA' })).rejects.toBeInstanceOf(ArchiveItemNotFoundError);
    expect(await a.owners()).toEqual([]);
  });

  it('stores items with unique URL-safe ids, in order, and returns them unchanged', async () => {
    const all = await fill('alice', 5, ['bob@example.net/phone', 'carol@example.org']);
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const binId = await a.append('alice', { with: 'x@y', payload: bytes, when: T0 + 10_000 });
    expect(new Set([...all.map((i) => i.id), binId]).size).toBe(6);
    for (const it of all) expect(it.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const page = await a.query('alice');
    expect(page.items.slice(0, 5)).toEqual(all);
    expect(page.items[5]).toEqual({ id: binId, when: T0 + 10_000, with: 'x@y', payload: bytes });
    expect(await a.get('alice', all[2]!.id)).toEqual(all[2]);
    expect(await a.owners()).toEqual(['alice']);
  });

  it('keeps time order: an older time is raised to the newest, no time means now', async () => {
    await a.append('o', { payload: 'a', when: T0 + 5000 });
    await a.append('o', { payload: 'b', when: T0 });
    const before = Date.now();
    await a.append('o', { payload: 'c' });
    const items = (await a.query('o')).items;
    expect(items.map((i) => i.when).slice(0, 2)).toEqual([T0 + 5000, T0 + 5000]);
    expect(items[2]!.when).toBeGreaterThanOrEqual(before);
    expect(items[0]!.with).toBe('');
  });

  it('matches a bare JID against every resource and a full JID exactly', async () => {
    await fill('o', 6, ['bob@x/phone', 'bob@x/laptop', 'bob@x', 'carol@x/phone']);
    const withs = async (q: ArchiveQuery): Promise<string[]> => (await a.query('o', q)).items.map((i) => i.with);
    expect(await withs({ with: 'bob@x' })).toEqual(['bob@x/phone', 'bob@x/laptop', 'bob@x', 'bob@x/phone', 'bob@x/laptop']);
    expect(await withs({ with: 'bob@x/phone' })).toEqual(['bob@x/phone', 'bob@x/phone']);
    expect(await withs({ with: 'carol@x' })).toEqual(['carol@x/phone']);
    expect(await withs({ with: 'bob@x/tablet' })).toEqual([]);
    expect(await withs({ with: 'dave@x' })).toEqual([]);
    expect((await a.query('o', { with: 'bob@x', limit: 0 })).count).toBe(5);
  });

  it('filters by start and end, both inclusive', async () => {
    const all = await fill('o', 10, ['bob@x']);
    const page = await a.query('o', { start: T0 + 2000, end: T0 + 5000 });
    expect(page.items.map((i) => i.id)).toEqual(all.slice(2, 6).map((i) => i.id));
    expect(page.count).toBe(4);
    expect((await a.query('o', { start: T0 + 1500, end: T0 + 1999 })).items).toEqual([]);
    expect((await a.query('o', { end: T0 - 1 })).count).toBe(0);
  });

  it('filters by ids, ignoring unknown and foreign ones', async () => {
    const all = await fill('o', 6, ['bob@x', 'carol@x']);
    const other = await fill('p', 2, ['bob@x']);
    const page = await a.query('o', { ids: [all[4]!.id, all[1]!.id, 'garbage', other[0]!.id, all[1]!.id] });
    expect(page.items.map((i) => i.id)).toEqual([all[1]!.id, all[4]!.id]);
    expect((await a.query('o', { ids: [all[1]!.id, all[4]!.id], with: 'carol@x' })).items.map((i) => i.id)).toEqual([all[1]!.id]);
  });

  it('pages forwards with after and backwards with before, RSM style', async () => {
    const all = await fill('o', 10, ['bob@x']);
    const ids = all.map((i) => i.id);
    const p1 = await a.query('o', { limit: 4 });
    expect(p1).toMatchObject({ count: 10, index: 0, complete: false });
    expect(p1.items.map((i) => i.id)).toEqual(ids.slice(0, 4));
    const p2 = await a.query('o', { limit: 4, after: p1.items[3]!.id });
    expect(p2.items.map((i) => i.id)).toEqual(ids.slice(4, 8));
    const p3 = await a.query('o', { limit: 4, after: p2.items[3]!.id });
    expect(p3).toMatchObject({ index: 8, complete: true });
    expect(p3.items.map((i) => i.id)).toEqual(ids.slice(8));
    // The last page: <before/> with no id.
    const l1 = await a.query('o', { limit: 4, before: true });
    expect(l1).toMatchObject({ count: 10, index: 6, complete: false });
    expect(l1.items.map((i) => i.id)).toEqual(ids.slice(6));
    const l2 = await a.query('o', { limit: 4, before: l1.items[0]!.id });
    expect(l2.items.map((i) => i.id)).toEqual(ids.slice(2, 6));
    const l3 = await a.query('o', { limit: 4, before: l2.items[0]!.id });
    expect(l3).toMatchObject({ index: 0, complete: true });
    expect(l3.items.map((i) => i.id)).toEqual(ids.slice(0, 2));
    // Between two ids.
    expect((await a.query('o', { after: ids[2], before: ids[6] })).items.map((i) => i.id)).toEqual(ids.slice(3, 6));
    expect((await a.query('o', { after: ids[6], before: ids[2] })).items).toEqual([]);
  });

  it('counts without items at limit 0 and caps the page size', async () => {
    await fill('o', 3, ['bob@x']);
    expect(await a.query('o', { limit: 0 })).toEqual({ items: [], count: 3, index: 0, complete: false });
    expect((await a.query('o', { limit: 10 ** 9 })).items).toHaveLength(3);
  });

  it('refuses an unknown after/before id with item-not-found', async () => {
    await fill('o', 3, ['bob@x']);
    const foreign = (await fill('p', 1, ['bob@x']))[0]!.id;
    for (const id of ['nope', foreign, 'AAAAAAAAAAAAAAAAAAAAAA']) {
      await expect(a.query('o', { after: id })).rejects.toMatchObject({ code: 'item-not-found', id });
      await expect(a.query('o', { before: id })).rejects.toBeInstanceOf(ArchiveItemNotFoundError);
    }
  });

  it('answers random query shapes like a plain filter over all items', async () => {
    const withs = ['bob@x/a', 'bob@x/b', 'carol@y', 'dave@z/r', 'eve@w'];
    const all: ArchiveItem[] = [];
    // Irregular times, with repeats, so time bounds fall on and between items.
    let t = T0;
    for (let i = 0; i < 300; i++) {
      t += [0, 1, 1000, 7][i % 4]!;
      const item = { with: withs[(i * 7) % 5 === 0 ? 0 : (i * 13) % 5]!, payload: `p${i}`, when: t };
      all.push({ id: await a.append('o', item), ...item });
    }
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pick = (): ArchiveItem => all[rnd(all.length)]!;
    const withChoices = [undefined, 'bob@x', 'bob@x/a', 'carol@y', 'dave@z/r', 'nobody@q'];
    for (let k = 0; k < 200; k++) {
      const q: ArchiveQuery = {};
      const w = withChoices[rnd(withChoices.length)];
      if (w !== undefined) q.with = w;
      if (rnd(3) === 0) q.start = pick().when + rnd(3) - 1;
      if (rnd(3) === 0) q.end = pick().when + rnd(3) - 1;
      if (rnd(6) === 0) q.ids = [pick().id, pick().id, pick().id];
      const dir = rnd(4);
      if (dir === 1) q.after = pick().id;
      if (dir === 2) q.before = rnd(2) === 0 ? true : pick().id;
      if (dir === 3) {
        q.after = pick().id;
        q.before = pick().id;
      }
      if (rnd(4) !== 0) q.limit = rnd(12);
      expect(await a.query('o', q), JSON.stringify(q)).toEqual(expected(all, q));
    }
  });

  it('reports first and last item and the bytes held', async () => {
    const all = await fill('o', 4, ['bob@x']);
    const m = await a.metadata('o');
    expect(m.count).toBe(4);
    expect(m.bytes).toBeGreaterThan(4 * all[0]!.payload.length);
    expect(m.first).toEqual({ id: all[0]!.id, when: all[0]!.when });
    expect(m.last).toEqual({ id: all[3]!.id, when: all[3]!.when });
  });

  it('refuses appends past the item limit with quota-limit, dropping nothing; truncate makes room', async () => {
    const small = b.archive('localhost', 'small', { maxItems: 3 });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await small.append('o', { payload: `m${i}`, when: T0 + i }));
    const err = await small.append('o', { payload: 'm3' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveQuotaError);
    expect(err).toMatchObject({ code: 'quota-limit', limit: 'items', max: 3 });
    expect((await small.query('o')).items.map((i) => i.id)).toEqual(ids);
    // Prosody's mod_mam answer to quota-limit: drop the oldest, then append again.
    expect(await small.truncate('o', 2)).toBe(1);
    const id3 = await small.append('o', { payload: 'm3', when: T0 + 3 });
    expect((await small.query('o')).items.map((i) => i.id)).toEqual([ids[1], ids[2], id3]);
    // Another owner has its own quota.
    await small.append('p', { payload: 'x' });
  });

  it('refuses appends past the byte limit', async () => {
    const small = b.archive('localhost', 'bytes', { maxBytes: 200 });
    await small.append('o', { payload: 'x'.repeat(100) });
    await expect(small.append('o', { payload: 'y'.repeat(100) })).rejects.toMatchObject({ code: 'quota-limit', limit: 'bytes' });
    expect((await small.metadata('o')).count).toBe(1);
  });

  it('refuses a payload or with past their size limits', async () => {
    await expect(a.append('o', { payload: 'x'.repeat(1024 * 1024 + 1) })).rejects.toBeInstanceOf(RangeError);
    await expect(a.append('o', { with: 'w'.repeat(4000), payload: 'x' })).rejects.toBeInstanceOf(RangeError);
  });

  it('deletes items older than a time across owners; an emptied owner disappears', async () => {
    const o = await fill('o', 10, ['bob@x']);
    await fill('p', 3, ['bob@x']);
    await fill('q', 5, ['bob@x'], T0 + 100_000);
    expect(await a.deleteOlderThan(T0 + 4000)).toBe(4 + 3);
    expect((await a.query('o')).items.map((i) => i.id)).toEqual(o.slice(4).map((i) => i.id));
    expect(await a.owners()).toEqual(['o', 'q']);
    expect((await a.metadata('q')).count).toBe(5);
    await expect(a.query('o', { after: o[1]!.id })).rejects.toBeInstanceOf(ArchiveItemNotFoundError);
    expect(await a.get('o', o[3]!.id)).toBeUndefined();
    expect(await a.get('o', o[4]!.id)).toEqual(o[4]);
    // The rest still pages and appends.
    const next = await a.append('o', { with: 'bob@x', payload: 'new', when: T0 + 20_000 });
    expect((await a.query('o', { with: 'bob@x', before: true, limit: 2 })).items.map((i) => i.id)).toEqual([o[9]!.id, next]);
  });

  it("deletes one owner's whole archive; its old ids do not come back", async () => {
    const old = await fill('o', 3, ['bob@x']);
    await fill('p', 2, ['bob@x']);
    await a.deleteOwner('o');
    expect(await a.query('o')).toEqual({ items: [], count: 0, index: 0, complete: true });
    expect(await a.owners()).toEqual(['p']);
    expect((await a.metadata('p')).count).toBe(2);
    const fresh = await fill('o', 3, ['bob@x']);
    for (const it of old) expect(await a.get('o', it.id)).toBeUndefined();
    expect(fresh.map((i) => i.id)).not.toEqual(old.map((i) => i.id));
    await a.deleteOwner('never-had-one');
  });

  it('gives different owners unrelated ids', async () => {
    const x = await fill('x', 2, ['bob@x']);
    const y = await fill('y', 2, ['bob@x']);
    expect(x[0]!.id).not.toBe(y[0]!.id);
    expect(await a.get('y', x[0]!.id)).toBeUndefined();
  });

  it('keeps hosts and stores apart and handles names that need encoding', async () => {
    const names = ['a.b', 'ünï/code', 'x/../y', 'UPPER', '%', 'é'.repeat(200)];
    for (const n of names) await a.append(n, { payload: n });
    for (const n of names) expect((await a.query(n)).items.map((i) => i.payload)).toEqual([n]);
    expect(await a.owners()).toEqual([...names].sort());
    expect(await b.archive('other.host', 'archive').owners()).toEqual([]);
    expect(await b.archive('localhost', 'muc_log').owners()).toEqual([]);
  });

  it('refuses appends after close, and still answers queries', async () => {
    const id = await a.append('o', { payload: 'kept' });
    await b.close();
    await expect(a.append('o', { payload: 'x' })).rejects.toBeInstanceOf(StorageClosedError);
    await expect(a.deleteOwner('o')).rejects.toBeInstanceOf(StorageClosedError);
    expect((await a.get('o', id))?.payload).toBe('kept');
  });
});
