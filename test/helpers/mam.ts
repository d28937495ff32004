// Archive queries (XEP-0313) from a raw Wire client, and a clock the tests move (the mam module's
// MamClock seam: createMam(clock) passed as an extra module replaces the shipped one).
import { randomBytes } from 'node:crypto';
import type { El, Wire } from './wire.js';
import { xmlEscape } from './wire.js';
import type { MamClock } from '../../src/modules/mam/expiry.js';

export const NS_MAM = 'urn:xmpp:mam:2';
export const NS_SID = 'urn:xmpp:sid:0';
export const NS_RSM = 'http://jabber.org/protocol/rsm';
export const NS_FORWARD = 'urn:xmpp:forward:0';

/** What a query asks: form fields and RSM. */
export interface MamQuery {
  with?: string;
  start?: string;
  end?: string;
  beforeId?: string;
  afterId?: string;
  ids?: string[];
  max?: number;
  after?: string;
  /** An id, or '' for the last page. */
  before?: string;
  flip?: boolean;
  ns?: string;
}

/** A query's answer: the <result/> messages in the order received, and the iq reply. */
export interface MamAnswer {
  results: El[];
  reply: El;
  /** Bodies of the forwarded messages, in the order received. */
  bodies: string[];
  /** Archive ids, in the order received. */
  ids: string[];
  fin: El | undefined;
}

/** The <query/> element for `q`. */
export function queryXml(q: MamQuery, queryid: string): string {
  const ns = q.ns ?? NS_MAM;
  const field = (v: string, value: string | undefined): string => (value === undefined ? '' : `<field var='${v}'><value>${xmlEscape(value)}</value></field>`);
  const fields = field('with', q.with) + field('start', q.start) + field('end', q.end) + field('before-id', q.beforeId) + field('after-id', q.afterId)
    + (q.ids ? `<field var='ids'>${q.ids.map((i) => `<value>${xmlEscape(i)}</value>`).join('')}</field>` : '');
  const form = fields ? `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${ns}</value></field>${fields}</x>` : '';
  const rsmParts = (q.max !== undefined ? `<max>${q.max}</max>` : '') + (q.after !== undefined ? `<after>${q.after}</after>` : '')
    + (q.before !== undefined ? (q.before === '' ? '<before/>' : `<before>${q.before}</before>`) : '');
  const rsm = rsmParts ? `<set xmlns='${NS_RSM}'>${rsmParts}</set>` : '';
  return `<query xmlns='${ns}' queryid='${queryid}'>${form}${rsm}${q.flip ? '<flip-page/>' : ''}</query>`;
}

/** Run a query and collect its results (they arrive before the iq reply). */
export async function mamQuery(w: Wire, q: MamQuery = {}, to?: string): Promise<MamAnswer> {
  const queryid = `q-${randomBytes(4).toString('hex')}`;
  const reply = await w.iq(`<iq type='set'${to ? ` to='${to}'` : ''}>${queryXml(q, queryid)}</iq>`);
  const results: El[] = [];
  for (let i = 0; i < w.inbox.length;) {
    const el = w.inbox[i]!;
    if (el.name === 'message' && el.getChild('result', q.ns ?? NS_MAM)?.attrs.queryid === queryid) {
      results.push(el);
      w.inbox.splice(i, 1);
    } else i++;
  }
  const inner = (r: El): El | undefined => r.getChild('result')?.getChild('forwarded', NS_FORWARD)?.getChild('message');
  return {
    results,
    reply,
    bodies: results.map((r) => inner(r)?.getChildText('body') ?? ''),
    ids: results.map((r) => r.getChild('result')!.attrs.id!),
    fin: reply.getChild('fin', q.ns ?? NS_MAM),
  };
}

/** The stanza-id a message carries by `by`. */
export function stanzaIdBy(m: El, by: string): string | undefined {
  return m.getChildren('stanza-id', NS_SID).find((s) => s.attrs.by === by)?.attrs.id;
}

/** A clock tests move: now() is real time plus an offset; advance() runs the sweeps that fell due. */
export class TestClock implements MamClock {
  offset = 0;
  private readonly timers: Array<{ ms: number; next: number; run: () => Promise<void> }> = [];

  now(): number {
    return Date.now() + this.offset;
  }

  every(ms: number, run: () => Promise<void>): () => void {
    const t = { ms, next: this.now() + ms, run };
    this.timers.push(t);
    return () => { this.timers.splice(this.timers.indexOf(t), 1); };
  }

  /** Move time forward by `ms` and run each periodic task that fell due (once); resolves when they are done. */
  async advance(ms: number): Promise<void> {
    this.offset += ms;
    const due = this.timers.filter((t) => t.next <= this.now());
    for (const t of due) t.next = this.now() + t.ms;
    await Promise.all(due.map((t) => t.run()));
  }
}

export const NS_DELAY = 'urn:xmpp:delay';

/** One archived message as a query returns it. */
export interface MamItem {
  /** The archive id (<result id>). */
  id: string;
  /** <delay stamp> in ms. */
  when: number;
  message: El;
}

/** The items of an answer, oldest first as received: id, time and the forwarded message. */
export function itemsOf(a: MamAnswer): MamItem[] {
  return a.results.map((m) => {
    const fwd = m.getChild('result')?.getChild('forwarded', NS_FORWARD);
    const message = fwd?.getChild('message');
    const stamp = fwd?.getChild('delay', NS_DELAY)?.attrs.stamp;
    if (!message || !stamp) throw new Error(`a MAM result without a forwarded message and delay: ${m.toString()}`);
    return { id: m.getChild('result')!.attrs.id!, when: Date.parse(stamp), message };
  });
}

/** The whole archive (or the part matching `q`), oldest first, paging forwards with `max` per page. */
export async function mamAll(w: Wire, q: Omit<MamQuery, 'before' | 'after' | 'max'> = {}, max = 50, to?: string): Promise<MamItem[]> {
  const out: MamItem[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const a = await mamQuery(w, { ...q, max, after }, to);
    if (a.reply.attrs.type !== 'result') throw new Error(`MAM query failed: ${a.reply.toString()}`);
    out.push(...itemsOf(a));
    if (a.fin?.attrs.complete === 'true' || a.results.length === 0) return out;
    after = a.fin?.getChild('set', NS_RSM)?.getChildText('last');
  }
  throw new Error('MAM paging did not end');
}
