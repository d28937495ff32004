// Message Archive Management with xmpp.js (@xmpp/client 0.14, which has no MAM plugin: the
// queries are built with its xml() and read from its stanza stream): alice's desk is online and
// her mobile offline while bob and carol write; the mobile then pages the history backwards with
// RSM, by `with` and by time; the archive ids equal the stanza-ids the desk saw live; prefs set
// by xmpp.js to never archive carol, and bob's no-store message, are not archived.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { match, Wire } from '../helpers/wire.js';
import { connectXmppjs, xml, type XmlElement, type XmppjsClient } from '../helpers/xmppjs.js';
import { NS_MAM, NS_RSM, NS_SID, TestClock } from '../helpers/mam.js';
import { createMam } from '../../src/modules/mam/mam.js';

const PASS = 'mam-js-pass';
const clock = new TestClock();

let ts: TestServer;
let desk: XmppjsClient;
let bob: Wire;
let carol: Wire;
let queries = 0;
const liveIds = new Map<string, string>();

interface JsPage { bodies: string[]; ids: string[]; fin: XmlElement }

/** Run a query with xmpp.js: the results are read until the page's last (or first, when flipped) id. */
async function jsQuery(c: XmppjsClient, fields: Record<string, string>, rsm: { max?: number; before?: string; after?: string }): Promise<JsPage> {
  const queryid = `js-${++queries}`;
  const form = Object.keys(fields).length === 0 ? undefined : xml('x', { xmlns: 'jabber:x:data', type: 'submit' },
    xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS_MAM)),
    ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v))));
  const set = xml('set', { xmlns: NS_RSM },
    ...(rsm.max !== undefined ? [xml('max', {}, String(rsm.max))] : []),
    ...(rsm.after !== undefined ? [xml('after', {}, rsm.after)] : []),
    ...(rsm.before !== undefined ? [xml('before', {}, rsm.before)] : []));
  const reply = await c.iq(xml('iq', { type: 'set' }, xml('query', { xmlns: NS_MAM, queryid }, ...(form ? [form] : []), set)));
  expect(reply.attrs.type).toBe('result');
  const fin = reply.getChild('fin', NS_MAM)!;
  const last = fin.getChild('set', NS_RSM)?.getChildText('last');
  const out: JsPage = { bodies: [], ids: [], fin };
  while (last) {
    const m = await c.waitFor((s) => s.name === 'message' && s.getChild('result', NS_MAM)?.attrs.queryid === queryid, `result of ${queryid}`);
    const r = m.getChild('result', NS_MAM)!;
    out.ids.push(r.attrs.id!);
    out.bodies.push(r.getChild('forwarded', 'urn:xmpp:forward:0')!.getChild('message')!.getChildText('body') ?? '');
    if (r.attrs.id === last) break;
  }
  return out;
}

/** `from` writes to alice; the desk gets it live and we note its stanza-id. */
async function toAlice(from: Wire, text: string, extra = ''): Promise<XmlElement> {
  from.send(`<message to='alice@localhost' type='chat'><body>${text}</body>${extra}</message>`);
  const m = await desk.waitFor((s) => s.name === 'message' && s.getChildText('body') === text, text);
  const sid = m.getChildren('stanza-id', NS_SID).find((s) => s.attrs.by === 'alice@localhost');
  if (sid) liveIds.set(text, sid.attrs.id!);
  return m;
}

beforeAll(async () => {
  ts = await startTestServer({ extraModules: [createMam(clock)] });
  for (const u of ['alice', 'bob', 'carol']) await ts.addUser(u, PASS);
  desk = await connectXmppjs(ts, { username: 'alice', password: PASS, resource: 'desk' });
  await desk.send(xml('presence'));
  bob = await Wire.login({ port: ts.port, username: 'bob', password: PASS, resource: 'b' });
  carol = await Wire.login({ port: ts.port, username: 'carol', password: PASS, resource: 'c' });
  for (const w of [bob, carol]) {
    w.send('<presence/>');
    await w.waitFor(match('presence', { from: w.jid }));
  }
  const prefs = await desk.iq(xml('iq', { type: 'set' }, xml('prefs', { xmlns: NS_MAM, default: 'always' }, xml('always'), xml('never', {}, xml('jid', {}, 'carol@localhost')))));
  expect(prefs.attrs.type).toBe('result');
  // The mobile is offline for all of this.
  for (const t of ['b1', 'b2']) await toAlice(bob, t);
  const never = await toAlice(carol, 'c-never');
  expect(never.getChildren('stanza-id', NS_SID)).toEqual([]);
  await toAlice(bob, 'b-secret', "<no-store xmlns='urn:xmpp:hints'/>");
  await clock.advance(3_600_000);
  for (const t of ['b3', 'b4', 'b5']) await toAlice(bob, t);
  await desk.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'd1')));
  await bob.waitFor((m) => m.getChildText('body') === 'd1');
});

afterAll(async () => {
  await desk?.stop();
  for (const w of [bob, carol]) await w?.close();
  await ts?.stop();
});

describe('MAM with xmpp.js', () => {
  let mobile: XmppjsClient;
  beforeAll(async () => { mobile = await connectXmppjs(ts, { username: 'alice', password: PASS, resource: 'mobile' }); });
  afterAll(async () => { await mobile?.stop(); });

  it('the returning mobile pages the history backwards, two at a time, with the live ids', async () => {
    const got: string[][] = [];
    let before = '';
    for (;;) {
      const page = await jsQuery(mobile, {}, { max: 2, before });
      got.unshift(page.bodies);
      for (const [i, b] of page.bodies.entries()) if (b !== 'd1') expect(page.ids[i], b).toBe(liveIds.get(b));
      if (page.fin.attrs.complete === 'true') break;
      before = page.fin.getChild('set', NS_RSM)!.getChildText('first')!;
    }
    expect(got).toEqual([['b1', 'b2'], ['b3', 'b4'], ['b5', 'd1']]);
  });

  it('and forwards from a start time, and by with', async () => {
    const start = new Date(clock.now() - 1_800_000).toISOString();
    const later = await jsQuery(mobile, { start }, { max: 10 });
    expect(later.bodies).toEqual(['b3', 'b4', 'b5', 'd1']);
    expect(later.fin.attrs.complete).toBe('true');
    const early = await jsQuery(mobile, { end: start }, {});
    expect(early.bodies).toEqual(['b1', 'b2']);
    const withCarol = await jsQuery(mobile, { with: 'carol@localhost' }, {});
    expect(withCarol.bodies).toEqual([]);
    expect(withCarol.fin.getChild('set', NS_RSM)!.getChildText('count')).toBe('0');
    const withBob = await jsQuery(mobile, { with: 'bob@localhost' }, { max: 3 });
    expect(withBob.bodies).toEqual(['b1', 'b2', 'b3']);
    const rest = await jsQuery(mobile, { with: 'bob@localhost' }, { max: 3, after: withBob.ids[2]! });
    expect(rest.bodies).toEqual(['b4', 'b5', 'd1']);
    expect(rest.fin.attrs.complete).toBe('true');
  });
});
