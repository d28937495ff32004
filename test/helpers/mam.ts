// MAM (XEP-0313) queries from a raw Wire client, against Clove or Prosody: one page at a time
// (the <result/> messages that arrived before the iq's answer, in order) and whole histories.
import { randomBytes } from 'node:crypto';
import { type El, type Wire, xmlEscape } from './wire.js';

export const NS_MAM = 'urn:xmpp:mam:2';
export const NS_RSM = 'http://jabber.org/protocol/rsm';
export const NS_FORWARD = 'urn:xmpp:forward:0';
export const NS_DELAY = 'urn:xmpp:delay';

/** One archived message as a query returns it. */
export interface MamItem {
  /** The archive id (<result id>). */
  id: string;
  /** <delay stamp> in ms. */
  when: number;
  message: El;
}

/** One page: the items (oldest first) and the iq's answer (<fin/> on success). */
export interface MamPage {
  items: MamItem[];
  iq: El;
  fin: El | undefined;
  first?: string;
  last?: string;
  count?: number;
  complete: boolean;
}

export interface MamQuery {
  with?: string;
  start?: string;
  end?: string;
  max?: number;
  /** RSM <before/>: '' for the last page. */
  before?: string;
  after?: string;
  /** Whose archive: the own account when absent. */
  to?: string;
  ns?: string;
  timeoutMs?: number;
}

/** Send one MAM query and gather its page. */
export async function mamPage(w: Wire, q: MamQuery = {}): Promise<MamPage> {
  const ns = q.ns ?? NS_MAM;
  const queryid = `q${randomBytes(4).toString('hex')}`;
  const fields = [['with', q.with], ['start', q.start], ['end', q.end]].filter((f): f is [string, string] => f[1] !== undefined);
  const form = fields.length
    ? `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${ns}</value></field>${fields.map(([k, v]) => `<field var='${k}'><value>${xmlEscape(v)}</value></field>`).join('')}</x>`
    : '';
  const rsm = [
    q.max !== undefined ? `<max>${q.max}</max>` : '',
    q.before !== undefined ? (q.before === '' ? '<before/>' : `<before>${xmlEscape(q.before)}</before>`) : '',
    q.after !== undefined ? `<after>${xmlEscape(q.after)}</after>` : '',
  ].join('');
  const to = q.to ? ` to='${xmlEscape(q.to)}'` : '';
  const iq = await w.iq(`<iq type='set'${to}><query xmlns='${ns}' queryid='${queryid}'>${form}${rsm ? `<set xmlns='${NS_RSM}'>${rsm}</set>` : ''}</query></iq>`, q.timeoutMs);
  const results: El[] = [];
  for (let i = 0; i < w.inbox.length;) {
    const el = w.inbox[i] as El;
    const r = el.name === 'message' ? el.getChild('result', ns) : undefined;
    if (r && r.attrs.queryid === queryid) results.push(...w.inbox.splice(i, 1));
    else i++;
  }
  const items = results.map((m) => {
    const r = m.getChild('result', ns) as El;
    const fwd = r.getChild('forwarded', NS_FORWARD);
    const message = fwd?.getChild('message');
    const stamp = fwd?.getChild('delay', NS_DELAY)?.attrs.stamp;
    if (!message || !stamp) throw new Error(`a MAM result without a forwarded message and delay: ${m.toString()}`);
    return { id: r.attrs.id as string, when: Date.parse(stamp), message };
  });
  const fin = iq.getChild('fin', ns);
  const set = fin?.getChild('set', NS_RSM);
  const count = set?.getChildText('count');
  return {
    items,
    iq,
    fin,
    first: set?.getChildText('first'),
    last: set?.getChildText('last'),
    count: count === undefined ? undefined : Number(count),
    complete: fin?.attrs.complete === 'true',
  };
}

/** The whole archive (or the part matching `q`), oldest first, paging forwards with `max` per page. */
export async function mamAll(w: Wire, q: Omit<MamQuery, 'before' | 'after'> = {}, max = 50): Promise<MamItem[]> {
  const out: MamItem[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const p = await mamPage(w, { ...q, max, after });
    if (p.iq.attrs.type !== 'result') throw new Error(`MAM query failed: ${p.iq.toString()}`);
    out.push(...p.items);
    if (p.complete || p.items.length === 0) return out;
    after = p.last;
  }
  throw new Error('MAM paging did not end');
}
