// What the account archive keeps (XEP-0313 §5.1.1, XEP-0334 hints), preferences (mam_prefs),
// stanza-ids (XEP-0359) and the archiving of both sides against a memory archive store.
import { describe, expect, it } from 'vitest';
import { parseElement } from '../../../../src/xml/parse.js';
import { parseJid } from '../../../../src/jid/jid.js';
import { archivable, storedCopy } from '../../../../src/modules/mam/policy.js';
import { DEFAULT_PREFS, parsePrefs, prefsRule } from '../../../../src/modules/mam/prefs.js';
import { sentView, stripClaims, withStanzaId } from '../../../../src/modules/mam/stanza-id.js';
import { onLocalMessage, onRemoteMessage, type ArchivingDeps } from '../../../../src/modules/mam/archiving.js';
import { selectPage, parseQuery, resultMessage } from '../../../../src/modules/mam/query.js';
import { createMemoryBackend } from '../../../../src/storage/memory.js';
import { silentLogger } from '../../../../src/core/log.js';
import type { StanzaEvent } from '../../../../src/core/events-map.js';
import type { Session } from '../../../../src/core/session.js';
import type { ArchiveStore } from '../../../../src/storage/store.js';
import { StanzaError } from '../../../../src/core/errors.js';

const msg = (inner: string, attrs = "type='chat'"): ReturnType<typeof parseElement> =>
  parseElement(`<message xmlns='jabber:client' to='alice@example.org' from='bob@example.org/b' ${attrs}>${inner}</message>`);

describe('what is archived', () => {
  const cases: Array<[string, string, boolean]> = [
    // Kept: chat and normal messages with a body, subject or an archivable payload.
    ['<body>hi</body>', "type='chat'", true],
    ['<body>hi</body>', '', true],
    ['<subject>s</subject>', "type='chat'", true],
    ["<received xmlns='urn:xmpp:receipts' id='1'/>", "type='chat'", true],
    ["<displayed xmlns='urn:xmpp:chat-markers:0' id='1'/>", "type='chat'", true],
    ["<encryption xmlns='urn:xmpp:eme:0' namespace='urn:xmpp:omemo:2'/>", "type='chat'", true],
    ["<x xmlns='jabber:x:conference' jid='room@muc'/>", "type='chat'", true],
    ["<x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@b'/></x>", "type='chat'", true],
    ["<store xmlns='urn:xmpp:hints'/><x xmlns='urn:example'/>", "type='chat'", true],
    // Left out: errors, headlines, groupchat, hints, chat states alone, carbons.
    ['<body>x</body>', "type='error'", false],
    ['<body>x</body>', "type='headline'", false],
    ['<body>x</body>', "type='groupchat'", false],
    ["<body>x</body><no-store xmlns='urn:xmpp:hints'/>", "type='chat'", false],
    ["<body>x</body><no-permanent-store xmlns='urn:xmpp:hints'/>", "type='chat'", false],
    ["<composing xmlns='http://jabber.org/protocol/chatstates'/>", "type='chat'", false],
    ["<received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message><body>x</body></message></forwarded></received>", "type='chat'", false],
    ['<thread>t</thread>', "type='chat'", false],
  ];
  it('follows XEP-0313 §5.1.1 and the XEP-0334 hints, as Prosody', () => {
    for (const [inner, attrs, kept] of cases) expect(archivable(msg(inner, attrs)), `${attrs} ${inner}`).toBe(kept);
  });
  it('stores the message without chat states, in jabber:client', () => {
    const copy = storedCopy(parseElement("<message to='a@b' type='chat'><body>x</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"))!;
    expect(copy.toString()).toBe('<message to="a@b" type="chat" xmlns="jabber:client"><body>x</body></message>');
  });
});

describe('stanza-id', () => {
  it('strips claims by the given bare JID only, and adds ours', () => {
    const m = msg("<body>x</body><stanza-id xmlns='urn:xmpp:sid:0' by='Alice@example.org' id='f1'/><stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.example.org' id='r1'/><origin-id xmlns='urn:xmpp:sid:0' id='o1'/>");
    const s = stripClaims(m, 'alice@example.org');
    expect(s.getChildren('stanza-id').map((c) => c.attrs.by)).toEqual(['room@muc.example.org']);
    expect(s.getChild('origin-id')?.attrs.id).toBe('o1');
    expect(stripClaims(s, 'alice@example.org')).toBe(s);
    expect(withStanzaId(s, 'alice@example.org', 'X').getChildren('stanza-id').map((c) => c.attrs.id)).toEqual(['r1', 'X']);
  });
});

describe('preferences', () => {
  it('never wins over always, invalid JIDs are skipped, the default is kept unless given', () => {
    const p = parsePrefs(parseElement("<prefs xmlns='urn:xmpp:mam:2'><always><jid>a@b</jid><jid>c@d</jid><jid>@@</jid></always><never><jid>C@d</jid></never></prefs>"), { ...DEFAULT_PREFS, default: 'roster' });
    expect(p).toEqual({ default: 'roster', always: ['a@b'], never: ['c@d'] });
    expect(prefsRule(p, 'a@b')).toBe(true);
    expect(prefsRule(p, 'c@d')).toBe(false);
    expect(prefsRule(p, 'e@f')).toBe('roster');
    expect(prefsRule(DEFAULT_PREFS, 'e@f')).toBe(true);
    expect(prefsRule({ default: 'never', always: [], never: [] }, 'e@f')).toBe(false);
  });
  it('is bounded', () => {
    const many = Array.from({ length: 1001 }, (_, i) => `<jid>u${i}@x</jid>`).join('');
    expect(() => parsePrefs(parseElement(`<prefs xmlns='urn:xmpp:mam:2'><always>${many}</always></prefs>`), DEFAULT_PREFS)).toThrow(StanzaError);
  });
});

describe('archiving both sides', () => {
  const c2s = { kind: 'c2s' } as unknown as Session;
  const setup = (maxItems?: number, allow = (_u: string, _w: string) => true): { store: ArchiveStore; deps: ArchivingDeps } => {
    const store = createMemoryBackend().archive('example.org', 'archive', maxItems ? { maxItems } : undefined);
    return { store, deps: { host: 'example.org', store, log: silentLogger(), now: () => 1_000_000, shallArchive: async (u, w) => allow(u, w) } };
  };
  const event = (stanza: ReturnType<typeof parseElement>, origin: Session | undefined): StanzaEvent =>
    ({ origin, stanza, to: parseJid(stanza.attrs.to!), from: parseJid(stanza.attrs.from!) });

  it("a local client's message to a local account: each archive has it, each side sees its own id", async () => {
    const { store, deps } = setup();
    const ev = event(msg('<body>hi</body>'), c2s);
    await onLocalMessage(deps, ev);
    const [a, b] = [await store.query('alice'), await store.query('bob')];
    expect(a.items.map((i) => i.with)).toEqual(['bob@example.org']);
    expect(b.items.map((i) => i.with)).toEqual(['alice@example.org']);
    expect(ev.stanza.getChildren('stanza-id').map((s) => [s.attrs.by, s.attrs.id])).toEqual([['alice@example.org', a.items[0]!.id]]);
    const view = sentView(ev.stanza);
    expect(view.getChildren('stanza-id').map((s) => [s.attrs.by, s.attrs.id])).toEqual([['bob@example.org', b.items[0]!.id]]);
    // The stored copy has no stanza-id: a result carries the id.
    expect(String(a.items[0]!.payload)).not.toContain('stanza-id');
  });

  it('a remote sender: only the recipient archives; a message routed again by the server is not archived twice', async () => {
    const { store, deps } = setup();
    const ev = event(msg('<body>hi</body>'), { kind: 's2s-in' } as unknown as Session);
    await onLocalMessage(deps, ev);
    expect((await store.query('bob')).count).toBe(0);
    expect((await store.query('alice')).count).toBe(1);
    const again = event(ev.stanza, undefined);
    await onLocalMessage(deps, again);
    expect((await store.query('alice')).count).toBe(1);
    expect(again.stanza).toBe(ev.stanza);
  });

  it('a message to another server: the sender archives it, the routed stanza carries no id of ours', async () => {
    const { store, deps } = setup();
    const stanza = parseElement("<message to='carol@remote.example' from='bob@example.org/b' type='chat'><body>x</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@example.org' id='spoof'/></message>");
    const ev = event(stanza, c2s);
    await onRemoteMessage(deps, ev);
    const b = await store.query('bob');
    expect(b.items.map((i) => i.with)).toEqual(['carol@remote.example']);
    expect(ev.stanza.getChildren('stanza-id')).toEqual([]);
    expect(sentView(ev.stanza).getChild('stanza-id')?.attrs.id).toBe(b.items[0]!.id);
  });

  it('preferences say no: nothing archived, no id', async () => {
    const { store, deps } = setup(undefined, (u) => u !== 'alice');
    const ev = event(msg('<body>hi</body>'), undefined);
    await onLocalMessage(deps, ev);
    expect((await store.query('alice')).count).toBe(0);
    expect(ev.stanza.getChild('stanza-id')).toBeUndefined();
  });

  it('a full archive drops its oldest 1 % and still takes the new message', async () => {
    const { store, deps } = setup(10);
    for (let i = 0; i < 10; i++) await onLocalMessage(deps, event(msg(`<body>m${i}</body>`), undefined));
    const ev = event(msg('<body>newest</body>'), undefined);
    await onLocalMessage(deps, ev);
    const page = await store.query('alice');
    expect(page.count).toBe(10);
    expect(String(page.items[0]!.payload)).toContain('m1<');
    expect(ev.stanza.getChild('stanza-id')?.attrs.id).toBe(page.items[9]!.id);
  });
});

describe('pages', () => {
  it('forwards up to before-id, cut where before-id falls in the result set', async () => {
    const store = createMemoryBackend().archive('h', 'archive');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await store.append('u', { with: i % 2 ? 'x@h' : 'y@h', payload: `<message xmlns='jabber:client'><body>${i}</body></message>`, when: i }));
    const q = (inner: string) => parseQuery(parseElement(`<query xmlns='urn:xmpp:mam:2'>${inner}</query>`), 'urn:xmpp:mam:2', 50);
    const form = (fields: string) => `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field>${fields}</x>`;
    const page = await selectPage(store, 'u', q(form(`<field var='before-id'><value>${ids[4]}</value></field>`) + "<set xmlns='http://jabber.org/protocol/rsm'><max>3</max></set>"));
    expect(page.items.map((i) => i.id)).toEqual(ids.slice(0, 3));
    expect(page.complete).toBe(false);
    const withX = await selectPage(store, 'u', q(form(`<field var='with'><value>x@h</value></field><field var='before-id'><value>${ids[4]}</value></field>`)));
    expect(withX.items.map((i) => i.id)).toEqual([ids[1], ids[3]]);
    expect(withX.complete).toBe(true);
    const index = await selectPage(store, 'u', q("<set xmlns='http://jabber.org/protocol/rsm'><index>2</index><max>2</max></set>"));
    expect(index.items.map((i) => i.id)).toEqual(ids.slice(2, 4));
    expect(index.index).toBe(2);
    await expect(selectPage(store, 'u', q("<set xmlns='http://jabber.org/protocol/rsm'><after>nope</after></set>"))).rejects.toThrow(/item-not-found/);
    // A result wraps the stored message; a payload that is not one element gives none.
    const item = (await store.query('u', { limit: 1 })).items[0]!;
    expect(resultMessage({ ns: 'urn:xmpp:mam:2', to: 'u@h/r' }, 'q', item)!.toString()).toContain(`<result xmlns="urn:xmpp:mam:2" queryid="q" id="${item.id}"><forwarded xmlns="urn:xmpp:forward:0"><delay xmlns="urn:xmpp:delay" stamp="1970-01-01T00:00:00.000Z"/><message xmlns="jabber:client"><body>0</body></message>`);
    expect(resultMessage({ ns: 'urn:xmpp:mam:2', to: 'u@h/r' }, 'q', { ...item, payload: '<message><body>' })).toBeUndefined();
  });
});
