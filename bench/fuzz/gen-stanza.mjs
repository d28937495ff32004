// Generator of c2s stanzas for the handler fuzzer: message, presence and iq with random
// addressing (own, the partner's, the server's, unknown, remote and malformed JIDs), types,
// ids, languages and payloads in the namespaces Clove's modules handle, mutated at the tree
// level (dropped, duplicated or foreign children, deep nesting, many attributes, long text).
// Always well-formed XML: byte-level damage is the parser fuzzer's job, and a broken stream
// would only test the stream error path over and over.

import { randName, randJid } from './gen-doc.mjs';

/** Payload namespaces and element names the server's modules know (and some they do not). */
const IQ_PAYLOADS = [
  ['ping', 'urn:xmpp:ping'], ['query', 'jabber:iq:roster'], ['query', 'jabber:iq:version'],
  ['query', 'http://jabber.org/protocol/disco#info'], ['query', 'http://jabber.org/protocol/disco#items'],
  ['query', 'jabber:iq:private'], ['query', 'jabber:iq:register'], ['query', 'jabber:iq:last'], ['vCard', 'vcard-temp'],
  ['time', 'urn:xmpp:time'], ['blocklist', 'urn:xmpp:blocking'], ['block', 'urn:xmpp:blocking'], ['unblock', 'urn:xmpp:blocking'],
  ['enable', 'urn:xmpp:carbons:2'], ['disable', 'urn:xmpp:carbons:2'], ['command', 'http://jabber.org/protocol/commands'],
  ['bind', 'urn:ietf:params:xml:ns:xmpp-bind'], ['session', 'urn:ietf:params:xml:ns:xmpp-session'], ['query', 'jabber:iq:auth'],
  ['pubsub', 'http://jabber.org/protocol/pubsub'], ['x', 'jabber:x:data'], ['query', 'urn:x-unknown'],
];
const CHILD_NAMES = [
  'item', 'group', 'storage', 'FN', 'NICKNAME', 'PHOTO', 'BINVAL', 'TYPE', 'field', 'value', 'feature', 'identity',
  'name', 'version', 'os', 'username', 'x', 'c', 'body', 'error', 'query', 'ping', 'text', 'tzo', 'utc', 'show',
];
const ITEM_ATTRS = ['jid', 'name', 'subscription', 'ask', 'node', 'action', 'sessionid', 'type', 'var', 'xmlns', 'category'];
// Children that would lock the fuzzing accounts out (account removal, password change).
const EXCLUDED = new Set(['remove', 'password']);

/** Builds the XML text of an element: escaping done here, never by hand elsewhere. */
function esc(s, attr) {
  return attr ? s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`) : s.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function xml(name, attrs, children) {
  let s = '<' + name;
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) s += ` ${k}="${esc(v, true)}"`;
  if (children.length === 0) return s + '/>';
  return s + '>' + children.map((c) => (typeof c === 'string' ? esc(c, false) : c.xml)).join('') + `</${name}>`;
}

const el = (name, attrs = {}, children = []) => ({ xml: xml(name, attrs, children) });

function randText(r) {
  const n = r.chance(0.02) ? r.range(1000, 20000) : r.int(40);
  let s = '';
  while (s.length < n) s += r.pick(['hello ', 'é', '😀', '<b>', '&amp;', ' ', '\n', ']]>', randName(r, 8), '"', "'", '0', '-1', '99999999999']);
  return s;
}

function randValue(r, ctx) {
  const c = r.int(10);
  if (c < 3) return randJid(r);
  if (c < 5) return r.pick(ctx.jids);
  if (c === 5) return r.pick(['', ' ', 'both', 'none', 'remove', 'subscribe', 'from', 'to', 'execute', 'cancel', 'next', 'complete']);
  if (c === 6) return 'x'.repeat(r.pick([1, 100, 1100, 3000]));
  return randName(r, 10);
}

/** A random payload subtree below depth `depth`, of at most `budget.nodes` elements. */
function subtree(r, ctx, depth, budget = { nodes: 100 }) {
  const kids = [];
  const n = depth > 0 ? r.int(r.chance(0.05) ? 40 : 4) : 0;
  for (let k = 0; k < n && budget.nodes-- > 0; k++) {
    if (r.chance(0.3)) kids.push(randText(r));
    else {
      let name = r.pick(CHILD_NAMES);
      if (EXCLUDED.has(name)) name = 'item';
      const attrs = {};
      for (let a = r.int(r.chance(0.02) ? 50 : 4); a > 0; a--) attrs[r.chance(0.8) ? r.pick(ITEM_ATTRS) : randName(r, 6)] = randValue(r, ctx);
      kids.push(el(name, attrs, subtree(r, ctx, depth - 1, budget)));
    }
  }
  return kids;
}

function payload(r, ctx) {
  const [name, ns] = r.pick(IQ_PAYLOADS);
  const attrs = { xmlns: r.chance(0.95) ? ns : r.pick(IQ_PAYLOADS)[1] };
  if (r.chance(0.2)) attrs.node = r.chance(0.5) ? randName(r, 20) : 'http://jabber.org/protocol/commands';
  if (r.chance(0.1)) attrs.action = r.pick(['execute', 'cancel', 'complete', 'next', 'bogus']);
  return el(name, attrs, subtree(r, ctx, r.chance(0.02) ? 40 : r.int(4)));
}

const IQ_TYPES = ['get', 'get', 'set', 'set', 'result', 'error', 'bogus', ''];
const MSG_TYPES = [undefined, 'chat', 'normal', 'groupchat', 'headline', 'error', 'bogus'];
const PRES_TYPES = [undefined, undefined, 'unavailable', 'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'error', 'bogus'];

function address(r, ctx) {
  const c = r.int(20);
  if (c < 2) return undefined;
  if (c < 12) return r.pick(ctx.jids);
  if (c < 15) return randJid(r);
  return r.pick([
    '', '@', 'a@b@c', '/', 'localhost/', '@localhost', 'user1@LOCALHOST', 'ÜSER1@localhost', `${'x'.repeat(1100)}@localhost`,
    `user1@localhost/${'r'.repeat(1100)}`, `${'é'.repeat(200)}@localhost`, `a@${'d'.repeat(600)}`, '[::1]', 'a@127.0.0.1',
    'user2@localhost', 'nobody@localhost', 'abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvw.b32.i2p',
    'example.net', 'user@example.net/r', 'localhost', 'conference.localhost', 'a\u0000b@localhost'.replace('\u0000', ''),
  ]);
}

/**
 * One stanza (or, rarely, a stream-level nonza). Returns { xml, iq: id of an iq get/set the
 * sender must see exactly one answer to, quiet: id of an iq result/error nobody may answer }. `ctx.jids` are JIDs worth addressing;
 * `ctx.self` the sender's full JID, `ctx.nextId()` a fresh id.
 */
export function stanza(r, ctx) {
  const roll = r.next();
  if (roll < 0.002) {
    return {
      xml: r.pick([
        "<r xmlns='urn:xmpp:sm:3'/>", "<a xmlns='urn:xmpp:sm:3' h='99'/>", "<inactive xmlns='urn:xmpp:csi:0'/>", "<active xmlns='urn:xmpp:csi:0'/>",
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>",
        '<foo/>', "<message xmlns='jabber:server'/>", "<iq xmlns='urn:x' type='get' id='n'/>",
      ]),
      iq: null,
      quiet: null,
    };
  }
  const attrs = {};
  const to = address(r, ctx);
  if (to !== undefined) attrs.to = to;
  // A client may stamp its own full JID; anything else ends the stream (invalid-from), so rarely.
  if (r.chance(0.05)) attrs.from = r.chance(0.97) ? ctx.self : r.pick(ctx.jids);
  if (r.chance(0.1)) attrs['xml:lang'] = r.pick(['en', 'de', '', 'x'.repeat(100)]);
  let name;
  let children = [];
  if (roll < 0.45) {
    name = 'iq';
    attrs.type = r.pick(IQ_TYPES);
    if (r.chance(0.97)) attrs.id = ctx.nextId();
    const n = attrs.type === 'get' || attrs.type === 'set' ? (r.chance(0.9) ? 1 : r.pick([0, 2, 3])) : r.int(2);
    for (let k = 0; k < n; k++) children.push(r.chance(0.9) ? payload(r, ctx) : el('error', { type: 'cancel' }, [el('bad-request', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' })]));
  } else if (roll < 0.75) {
    name = 'message';
    const type = r.pick(MSG_TYPES);
    if (type) attrs.type = type;
    if (r.chance(0.7)) attrs.id = ctx.nextId();
    if (r.chance(0.8)) children.push(el('body', {}, [randText(r)]));
    if (r.chance(0.1)) children.push(el('subject', {}, [randText(r)]));
    if (r.chance(0.1)) children.push(el('thread', { parent: randName(r, 5) }, [randName(r, 10)]));
    if (r.chance(0.1)) children.push(el('request', { xmlns: 'urn:xmpp:receipts' }));
    if (r.chance(0.1)) children.push(el('private', { xmlns: 'urn:xmpp:carbons:2' }));
    if (r.chance(0.1)) children.push(el(r.pick(['active', 'composing', 'paused']), { xmlns: 'http://jabber.org/protocol/chatstates' }));
    if (r.chance(0.1)) children.push(el('delay', { xmlns: 'urn:xmpp:delay', stamp: r.pick(['2002-09-10T23:08:25Z', 'bogus']) }));
    if (r.chance(0.1)) children.push(payload(r, ctx));
  } else {
    name = 'presence';
    const type = r.pick(PRES_TYPES);
    if (type) attrs.type = type;
    if (r.chance(0.3)) attrs.id = ctx.nextId();
    if (r.chance(0.3)) children.push(el('show', {}, [r.pick(['away', 'chat', 'dnd', 'xa', 'bogus', ''])]));
    if (r.chance(0.3)) children.push(el('status', {}, [randText(r)]));
    if (r.chance(0.2)) children.push(el('priority', {}, [r.pick(['0', '5', '-128', '127', '128', '-129', '99999999999999999999', 'x', '1.5', ''])]));
    if (r.chance(0.2)) children.push(el('c', { xmlns: 'http://jabber.org/protocol/caps', hash: 'sha-1', node: randName(r, 10), ver: randName(r, 28) }));
    if (r.chance(0.1)) children.push(el('x', { xmlns: 'vcard-temp:x:update' }, [el('photo', {}, [r.pick(['', 'abc', 'x'.repeat(40)])])]));
    if (r.chance(0.1)) children.push(el('nick', { xmlns: 'http://jabber.org/protocol/nick' }, [randText(r)]));
    if (r.chance(0.1)) children.push(payload(r, ctx));
  }
  if (r.chance(0.05)) for (let k = r.int(3); k >= 0; k--) children.push(el(randName(r, 6), { xmlns: `urn:x-${randName(r, 4)}` }, subtree(r, ctx, 3)));
  if (r.chance(0.05) && children.length > 0) children = [...children, ...children];
  if (r.chance(0.05)) children.reverse();
  const request = name === 'iq' && (attrs.type === 'get' || attrs.type === 'set');
  const reply = name === 'iq' && (attrs.type === 'result' || attrs.type === 'error');
  return { xml: xml(name, attrs, children), iq: request ? attrs.id ?? null : null, quiet: reply ? attrs.id ?? null : null };
}
