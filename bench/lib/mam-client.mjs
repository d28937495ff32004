// MAM (XEP-0313) queries from the bench's small client (./xmpp.mjs Conn): one query at a time,
// timed from the write of the iq to the arrival of its answer, with the <result/> messages that
// came before it counted and their ids kept.

const NS_MAM = 'urn:xmpp:mam:2';
const NS_RSM = 'http://jabber.org/protocol/rsm';

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');

/** The query iq: `with` (a bare JID), `before` ('' = the last page, or an id), `after`, `max`. */
export function mamQueryXml(id, q) {
  const form = q.with
    ? `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS_MAM}</value></field><field var='with'><value>${esc(q.with)}</value></field></x>`
    : '';
  const rsm =
    `<max>${q.max}</max>` +
    (q.before === undefined ? '' : q.before === '' ? '<before/>' : `<before>${esc(q.before)}</before>`) +
    (q.after === undefined ? '' : `<after>${esc(q.after)}</after>`);
  return `<iq type='set' id='${id}'><query xmlns='${NS_MAM}' queryid='${id}'>${form}<set xmlns='${NS_RSM}'>${rsm}</set></query></iq>`;
}

/**
 * A client that runs one MAM query at a time on `conn` (which must not be used for anything
 * else meanwhile). query(q) → { ms, results, ids, type } where `type` is the iq's type.
 */
export function mamClient(conn) {
  let seq = 0;
  let current = null;
  conn.onItems = (items) => {
    const now = performance.now();
    for (const it of items) {
      if (!current) continue;
      if (it.name === 'message' && (it.xml.includes(`queryid='${current.id}'`) || it.xml.includes(`queryid="${current.id}"`))) {
        current.results++;
        const m = /<result\b[^>]*\bid=['"]([^'"]+)['"]/.exec(it.xml);
        if (m) current.ids.push(m[1]);
      } else if (it.name === 'iq' && (it.xml.includes(`id='${current.id}'`) || it.xml.includes(`id="${current.id}"`))) {
        const c = current;
        current = null;
        const type = /\btype=['"]([a-z]+)['"]/.exec(it.xml)?.[1];
        c.resolve({ ms: now - c.t0, results: c.results, ids: c.ids, type, xml: type === 'error' ? it.xml : undefined });
      }
    }
  };
  conn.onClose = (err) => current?.reject(err);
  /** Write `xml(id)` and resolve with the answer to iq `id` (and the results before it). */
  const ask = (xml, timeoutMs) => {
    if (current) throw new Error('one MAM query at a time');
    const id = `mq${++seq}`;
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          current = null;
          reject(new Error(`MAM query ${id} unanswered after ${timeoutMs} ms`));
        }, timeoutMs);
        current = {
          id,
          results: 0,
          ids: [],
          t0: performance.now(),
          resolve: (v) => (clearTimeout(timer), resolve(v)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        };
        conn.write(xml(id));
      });
  };
  return {
    query: (q, timeoutMs = 30_000) => ask((id) => mamQueryXml(id, q), timeoutMs),
    /** A ping round trip on the same stream: the baseline of what the server and machine add to any query. */
    ping: (timeoutMs = 30_000) => ask((id) => `<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`, timeoutMs),
  };
}
