// Running an archive query (XEP-0313 §4): the form's filters and the RSM request become one or two
// archive store queries; the page is sent to the asking resource as <result/> messages, and the
// iq's answer is <fin/>. Behaviour learnt from Prosody's mod_mam: a `max` above the server's page
// limit is cut to it (the client pages on), pages are in chronological order unless
// <flip-page/> asks otherwise, <first/> is the page's oldest item and <last/> its newest.
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import { parseElement } from '../../xml/parse.js';
import { ARCHIVE_QUERY_MAX, ArchiveItemNotFoundError, type ArchiveItem, type ArchivePage, type ArchiveQuery, type ArchiveStore } from '../../storage/store.js';
import { readQueryForm, type QueryFilters } from './form.js';
import { readRsm, rsmAnswer, type RsmRequest } from './rsm.js';

/** Page size when the client asks for none (Prosody's default). */
export const DEFAULT_PAGE = 20;

/** A parsed query: filters, paging, and the page size in force. */
export interface ParsedQuery {
  filters: QueryFilters;
  rsm: RsmRequest;
  limit: number;
  flip: boolean;
  queryid: string | undefined;
}

/** Read a <query/> element (form, RSM, flip-page); `pageMax` is max_archive_query_results. */
export function parseQuery(query: Element, ns: string, pageMax: number): ParsedQuery {
  const form = query.getChild('x', NS.DATA_FORMS);
  const filters = form ? readQueryForm(form, ns) : {};
  if (filters.ids && filters.ids.length > ARCHIVE_QUERY_MAX) throw new StanzaError('policy-violation', `at most ${ARCHIVE_QUERY_MAX} ids in one query`);
  const rsm = readRsm(query);
  if (rsm.index !== undefined && rsm.index > ARCHIVE_QUERY_MAX) throw new StanzaError('policy-violation', `RSM <index/> above ${ARCHIVE_QUERY_MAX}: page with <after/> instead`);
  return {
    filters,
    rsm,
    limit: Math.min(rsm.max ?? DEFAULT_PAGE, pageMax),
    flip: query.getChild('flip-page') !== undefined,
    queryid: query.attrs.queryid,
  };
}

/** The page the query selects, oldest first, with the RSM figures. */
export async function selectPage(store: ArchiveStore, owner: string, q: ParsedQuery): Promise<ArchivePage> {
  const { filters: f, rsm, limit } = q;
  const base: ArchiveQuery = {};
  if (f.with !== undefined) base.with = f.with;
  if (f.start !== undefined) base.start = f.start;
  if (f.end !== undefined) base.end = f.end;
  if (f.ids !== undefined) base.ids = f.ids;
  let after = rsm.after ?? f.afterId;
  try {
    if (rsm.before !== undefined) {
      // Backwards: the page ends before RSM's id, or before-id, or at the end.
      const before = typeof rsm.before === 'string' ? rsm.before : f.beforeId ?? true;
      return await store.query(owner, { ...base, ...(after !== undefined ? { after } : {}), before, limit });
    }
    if (rsm.index !== undefined && rsm.index > 0 && after === undefined) {
      // Skip `index` items: the id of the last one skipped is where the page starts.
      const skipped = await store.query(owner, { ...base, limit: rsm.index });
      const lastSkipped = skipped.items[skipped.items.length - 1];
      if (skipped.items.length < rsm.index || !lastSkipped) return { items: [], count: skipped.count, index: skipped.count, complete: true };
      after = lastSkipped.id;
    }
    const forward = await store.query(owner, { ...base, ...(after !== undefined ? { after } : {}), limit });
    if (f.beforeId === undefined) return forward;
    // Forwards up to before-id: the store pages one way per query, so find where before-id
    // falls in the result set (an empty backward page ends there) and cut the page at it.
    const bound = await store.query(owner, { ...base, before: f.beforeId, limit: 0 });
    const n = Math.max(0, bound.index - forward.index);
    return { ...forward, items: forward.items.slice(0, n), complete: n <= limit };
  } catch (err) {
    if (err instanceof ArchiveItemNotFoundError) throw new StanzaError('item-not-found', 'no archived message has that id');
    throw err;
  }
}

/** Who gets a query's results and how: the user archive answers its own resource, a room's archive (muc_mam) answers from the room JID and may hide parts of what it stored. */
export interface ResultView {
  ns: string;
  /** The asking full JID. */
  to: string;
  /** The archive's JID when it is not the asker's own (a room). */
  from?: string;
  /** What the asker may see of an archived stanza (undefined: all of it). */
  show?: (archived: Element) => Element;
}

/** One <message><result><forwarded><delay/><message/>… for the asking resource; undefined for a payload that is not one element. */
export function resultMessage(view: ResultView, queryid: string | undefined, item: ArchiveItem): Element | undefined {
  const { ns, to, from, show } = view;
  let archived: Element;
  try {
    archived = parseElement(typeof item.payload === 'string' ? item.payload : Buffer.from(item.payload).toString('utf8'));
  } catch {
    return undefined;
  }
  if (show) archived = show(archived);
  return x('message', { to, from },
    x('result', { xmlns: ns, queryid, id: item.id },
      x('forwarded', { xmlns: NS.FORWARD },
        x('delay', { xmlns: NS.DELAY, stamp: new Date(item.when).toISOString() }),
        archived)));
}

/** The iq's answer: <fin complete?><set/></fin> (complete: nothing more in the paging direction). */
export function finElement(ns: string, page: ArchivePage, backwards: boolean): Element {
  const first = page.items[0]?.id;
  const last = page.items[page.items.length - 1]?.id;
  // COMPAT: slixmpp 1.8's RSM iterator stops when first index + page size = count, in either
  // direction, so a backward page that carries its index ends the walk after the newest page.
  // Prosody sends no index at all; a backward page here leaves it out too.
  return x('fin', { xmlns: ns, complete: page.complete ? 'true' : undefined }, rsmAnswer(page, first, last, !backwards));
}

/** The page's items in the order they are sent: oldest first, or newest first with <flip-page/>. */
export function sendOrder(page: ArchivePage, flip: boolean): ArchiveItem[] {
  return flip ? [...page.items].reverse() : page.items;
}

/** Run a parsed query on `owner`'s archive: the page goes out as <result/> messages through `send` (awaited in order, so they precede the iq's answer) and the <fin/> is returned. */
export async function answerQuery(
  store: ArchiveStore,
  owner: string,
  q: ParsedQuery,
  view: ResultView,
  send: (el: Element) => void | Promise<void>,
  warn: (item: ArchiveItem) => void,
): Promise<Element> {
  const page = await selectPage(store, owner, q);
  for (const item of sendOrder(page, q.flip)) {
    const m = resultMessage(view, q.queryid, item);
    // An item that does not parse (imported, damaged) is left out rather than failing the page.
    if (m) await send(m);
    else warn(item);
  }
  return finElement(view.ns, page, q.rsm.before !== undefined);
}
