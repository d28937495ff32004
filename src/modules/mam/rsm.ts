// Result Set Management (XEP-0059) as archive queries use it: read the request's <set/> and build
// the answer's <set/> (first with its index, last, count).
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import type { ArchivePage } from '../../storage/store.js';

/** What a request's <set/> asks for. */
export interface RsmRequest {
  max?: number;
  after?: string;
  /** An id, or true for an empty <before/>: the last page. */
  before?: string | true;
  index?: number;
}

/** A non-negative whole number of a <set/> child, or bad-request. */
function count(el: Element | undefined, name: string): number | undefined {
  if (!el) return undefined;
  const t = el.text().trim();
  if (!/^\d{1,9}$/.test(t)) throw new StanzaError('bad-request', `RSM <${name}/> must be a non-negative whole number`);
  return Number(t);
}

/** Read the <set xmlns='http://jabber.org/protocol/rsm'/> of a query (none: an empty request). */
export function readRsm(query: Element): RsmRequest {
  const set = query.getChild('set', NS.RSM);
  if (!set) return {};
  const out: RsmRequest = {};
  const max = count(set.getChild('max'), 'max');
  if (max !== undefined) out.max = max;
  const index = count(set.getChild('index'), 'index');
  if (index !== undefined) out.index = index;
  const after = set.getChild('after');
  if (after) {
    const id = after.text().trim();
    if (id === '') throw new StanzaError('bad-request', 'RSM <after/> needs an id');
    out.after = id;
  }
  const before = set.getChild('before');
  if (before) out.before = before.text().trim() || true;
  if (out.after !== undefined && out.before !== undefined && out.index !== undefined) throw new StanzaError('bad-request', 'RSM <index/> goes without <after/> and <before/>');
  return out;
}

/** The answer's <set/>: first (with its index) and last of the page, oldest first, and the count. */
export function rsmAnswer(page: Pick<ArchivePage, 'count' | 'index'>, first: string | undefined, last: string | undefined): Element {
  return x('set', { xmlns: NS.RSM },
    first !== undefined && x('first', { index: String(page.index) }, first),
    last !== undefined && x('last', null, last),
    x('count', null, String(page.count)));
}
