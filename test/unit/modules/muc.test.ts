// The muc component's room logic without sockets: the XEP-0045 role and affiliation rules,
// history bounds and the join-time filter, the owner form (nothing half-applied), the per-occupant
// rate, and the service driven with stanzas in, stanzas out (creation policy and limits, the
// refusals of a join, nick changes, kicks, persistence through a memory store).
import { describe, expect, it } from 'vitest';
import { x, type Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { parseJid } from '../../../src/jid/jid.js';
import { StanzaError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/log.js';
import { createMemoryBackend } from '../../../src/storage/memory.js';
import { affiliationChangeError, defaultRole, roleChangeError } from '../../../src/modules/muc/roles.js';
import { History, readHistoryRequest } from '../../../src/modules/muc/history.js';
import { configForm, readConfigForm } from '../../../src/modules/muc/config-form.js';
import type { RoomConfig } from '../../../src/modules/muc/room-config.js';
import { TokenBucket } from '../../../src/modules/muc/rate.js';
import { MucService, type CreationPolicy, type MucLimits } from '../../../src/modules/muc/service.js';
import type { StoredRoom } from '../../../src/modules/muc/room.js';
import { bounced, occupantPresenceIn } from '../../../src/modules/muc/join.js';
import { adminGet, adminSet } from '../../../src/modules/muc/admin.js';
import { ownerSet } from '../../../src/modules/muc/owner.js';

const DEFAULTS: RoomConfig = {
  name: '', description: '', language: '', persistent: false, public: true, membersOnly: false, moderated: false,
  password: '', whois: 'moderators', maxUsers: 50, historyLength: 20, allowInvites: false, changeSubject: false,
  allowNickChange: true, voiceRequests: true, allowPm: 'anyone', archiving: true,
};
const LIMITS: MucLimits = {
  maxRooms: 3, maxRoomsPerUser: 2, maxOccupants: 50, maxHistory: 100, historyBytes: 4096, eventRate: 1, burst: 3,
  subjectBytes: 100, maxAffiliations: 10, presenceBytes: 16 * 1024, totalPresenceBytes: 1 << 20, locking: true, lockTimeoutMs: 60_000,
};
const MUC = 'conference.example';

function service(creation: Partial<CreationPolicy> = {}, limits: Partial<MucLimits> = {}, backend = createMemoryBackend()): { svc: MucService; sent: Element[] } {
  const sent: Element[] = [];
  const svc = new MucService({
    domain: MUC, limits: { ...LIMITS, ...limits }, defaults: DEFAULTS,
    creation: { mode: 'anyone', admins: new Set(['root@example']), parent: 'example', ...creation },
    store: backend.keyval<StoredRoom>(MUC, 'muc_rooms'), salt: 'salt', send: (el) => void sent.push(el), log: silentLogger(),
  });
  return { svc, sent };
}

const presence = (inner = ''): Element => (inner ? x('presence', null, x('x', { xmlns: 'http://jabber.org/protocol/muc' }, x('password', null, inner))) : x('presence'));
async function joinAs(svc: MucService, user: string, room: string, nick: string, password = ''): Promise<void> {
  await occupantPresenceIn(svc, presence(password), parseJid(`${user}/r`), parseJid(`${room}@${MUC}/${nick}`));
}
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  return 'accepted';
}
const codesOf = (el: Element): number[] => (el.getChild('x', NS.MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code));
const submit = (fields: Record<string, string>): Element =>
  x('x', { xmlns: 'jabber:x:data', type: 'submit' }, ...Object.entries(fields).map(([k, v]) => x('field', { var: k }, x('value', null, v))));
const instant = async (svc: MucService, owner: string, room: string): Promise<void> =>
  ownerSet(svc, svc.rooms.get(room)!, parseJid(`${owner}/r`), x('query', null, submit({})));

describe('muc roles and affiliations (XEP-0045 §5, §8–§10)', () => {
  it('gives each affiliation its default role', () => {
    expect(defaultRole('owner', false, false)).toBe('moderator');
    expect(defaultRole('admin', true, true)).toBe('moderator');
    expect(defaultRole('member', true, false)).toBe('participant');
    expect(defaultRole('none', false, false)).toBe('participant');
    expect(defaultRole('none', true, false)).toBe('visitor');
    expect(defaultRole('none', false, true)).toBe('none');
    expect(defaultRole('outcast', false, false)).toBe('none');
  });

  it('lets moderators kick and voice, only admins touch moderators, nobody lowers an admin', () => {
    expect(roleChangeError('none', 'participant', 'none', 'participant', 'none')?.condition).toBe('forbidden');
    expect(roleChangeError('none', 'moderator', 'none', 'participant', 'none')).toBeUndefined();
    expect(roleChangeError('member', 'moderator', 'none', 'participant', 'moderator')?.condition).toBe('not-allowed');
    expect(roleChangeError('admin', 'moderator', 'none', 'participant', 'moderator')).toBeUndefined();
    expect(roleChangeError('owner', 'moderator', 'admin', 'moderator', 'none')?.condition).toBe('not-allowed');
    expect(roleChangeError('member', 'moderator', 'owner', 'moderator', 'visitor')?.condition).toBe('not-allowed');
  });

  it('lets admins manage members and bans below them, owners everything', () => {
    expect(affiliationChangeError('member', 'none', 'member')?.condition).toBe('forbidden');
    expect(affiliationChangeError('admin', 'none', 'outcast')).toBeUndefined();
    expect(affiliationChangeError('admin', 'admin', 'outcast')?.condition).toBe('not-allowed');
    expect(affiliationChangeError('admin', 'none', 'admin')?.condition).toBe('not-allowed');
    expect(affiliationChangeError('owner', 'admin', 'owner')).toBeUndefined();
  });
});

describe('muc history (XEP-0045 §7.2.15)', () => {
  const msg = (body: string): Element => x('message', { type: 'groupchat', from: `r@${MUC}/a` }, x('body', null, body));

  it('keeps at most the room length and the byte budget, oldest dropped first', () => {
    const h = new History(3, 10_000);
    for (const n of [1, 2, 3, 4, 5]) h.add(msg(`m${n}`), n * 1000);
    expect(h.select({}, 10_000).map((e) => e.stanza.getChildText('body'))).toEqual(['m3', 'm4', 'm5']);
    const small = new History(100, 200);
    for (let n = 0; n < 20; n++) small.add(msg(`message number ${n}`), n);
    expect(small.bytes).toBeLessThanOrEqual(200);
    expect(small.select({}, 100).at(-1)?.stanza.getChildText('body')).toBe('message number 19');
    h.resize(1);
    expect(h.length).toBe(1);
  });

  it('selects by maxstanzas, maxchars, seconds and since', () => {
    const h = new History(10, 10_000);
    for (const n of [1, 2, 3, 4]) h.add(msg(`m${n}`), n * 1000);
    const bodies = (req: Parameters<History['select']>[0]): (string | undefined)[] => h.select(req, 5000).map((e) => e.stanza.getChildText('body'));
    expect(bodies({ maxstanzas: 2 })).toEqual(['m3', 'm4']);
    expect(bodies({ maxchars: 0 })).toEqual([]);
    expect(bodies({ seconds: 2 })).toEqual(['m3', 'm4']);
    expect(bodies({ since: 2000 })).toEqual(['m3', 'm4']);
    const one = h.select({}, 5000)[0]?.bytes ?? 0;
    expect(bodies({ maxchars: one * 2 })).toEqual(['m3', 'm4']);
    expect(readHistoryRequest(x('history', { maxstanzas: '5', seconds: 'x', since: '1970-01-01T00:00:02Z' }))).toEqual({ maxstanzas: 5, since: 2000 });
  });
});

describe('muc owner form (XEP-0045 §10.2)', () => {
  it('offers every field with the current values and reads a submission back', () => {
    const form = configForm(DEFAULTS, 50, 100);
    const vars = form.getChildren('field').map((f) => f.attrs.var);
    expect(vars).toEqual(expect.arrayContaining(['FORM_TYPE', 'muc#roomconfig_roomname', 'muc#roomconfig_whois', 'muc#roomconfig_maxusers', 'muc#roomconfig_allowpm']));
    const c = readConfigForm(submit({ 'muc#roomconfig_roomname': 'Den', 'muc#roomconfig_whois': 'anyone', 'muc#roomconfig_maxusers': '10', 'muc#roomconfig_roomsecret': 'pw', 'muc#roomconfig_enablelogging': '1' }), DEFAULTS, 50, 100);
    expect(c).toMatchObject({ name: 'Den', whois: 'anyone', maxUsers: 10, password: 'pw' });
  });

  it('refuses bad values whole: out-of-range, unknown choices, oversize text, a protected room without a secret', () => {
    const bad = (f: Record<string, string>): string | undefined => {
      try {
        readConfigForm(submit(f), DEFAULTS, 50, 100);
        return undefined;
      } catch (err) {
        return (err as StanzaError).condition;
      }
    };
    expect(bad({ 'muc#roomconfig_maxusers': '51' })).toBe('not-acceptable');
    expect(bad({ 'muc#roomconfig_whois': 'everyone' })).toBe('not-acceptable');
    expect(bad({ 'muc#roomconfig_roomname': 'n'.repeat(300) })).toBe('not-acceptable');
    expect(bad({ 'muc#roomconfig_passwordprotectedroom': '1' })).toBe('not-acceptable');
    expect(bad({ 'muc#roomconfig_publicroom': 'maybe' })).toBe('not-acceptable');
    expect(DEFAULTS.maxUsers).toBe(50);
  });
});

describe('muc per-occupant rate', () => {
  it('allows a burst, then refills at the rate', () => {
    let now = 0;
    const b = new TokenBucket(2, 4, () => now);
    expect([1, 2, 3, 4, 5].map(() => b.take())).toEqual([true, true, true, true, false]);
    now = 500;
    expect([b.take(), b.take()]).toEqual([true, false]);
  });
});

describe('muc service: stanzas in, stanzas out', () => {
  it('creates rooms by restrict_room_creation and within the room limits', async () => {
    const admin = service({ mode: 'admin' });
    expect(await refusal(joinAs(admin.svc, 'u@example', 'r1', 'u'))).toBe('not-allowed');
    expect(admin.svc.rooms.size).toBe(0);
    expect(await refusal(joinAs(admin.svc, 'root@example', 'r1', 'root'))).toBe('accepted');
    const local = service({ mode: 'local' });
    expect(await refusal(joinAs(local.svc, 'u@remote.example', 'r1', 'u'))).toBe('not-allowed');
    expect(await refusal(joinAs(local.svc, 'u@example', 'r1', 'u'))).toBe('accepted');
    const { svc } = service();
    await joinAs(svc, 'a@example', 'r1', 'a');
    await joinAs(svc, 'a@example', 'r2', 'a');
    expect(await refusal(joinAs(svc, 'a@example', 'r3', 'a'))).toBe('policy-violation');
    await joinAs(svc, 'b@example', 'r3', 'b');
    expect(await refusal(joinAs(svc, 'c@example', 'r4', 'c'))).toBe('resource-constraint');
  });

  it('destroys a new room its owner never configured after muc_room_lock_timeout', async () => {
    const { svc, sent } = service({}, { lockTimeoutMs: 30 });
    await joinAs(svc, 'a@example', 'r', 'Al');
    expect(svc.rooms.get('r')?.locked).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(svc.rooms.has('r')).toBe(false);
    const last = sent.at(-1);
    expect(last?.attrs).toMatchObject({ type: 'unavailable', to: 'a@example/r' });
    expect(last?.getChild('x', NS.MUC_USER)?.getChild('destroy')?.getChildText('reason')).toBe('The room was never configured');
  });

  it('sends the owner 110 and 201, keeps others out while locked, then refuses a taken nick and a full room', async () => {
    const { svc, sent } = service({}, { maxOccupants: 2 });
    await joinAs(svc, 'a@example', 'r', 'Al');
    const self = sent.find((s) => s.name === 'presence' && s.attrs.to === 'a@example/r');
    expect(codesOf(self!)).toEqual([110, 201]);
    expect(sent.at(-1)?.getChild('subject')).toBeDefined();
    expect(await refusal(joinAs(svc, 'b@example', 'r', 'Bo'))).toBe('item-not-found');
    await instant(svc, 'a@example', 'r');
    expect(await refusal(joinAs(svc, 'b@example', 'r', 'Al'))).toBe('conflict');
    await joinAs(svc, 'b@example', 'r', 'Bo');
    expect(await refusal(joinAs(svc, 'c@example', 'r', 'Cy'))).toBe('service-unavailable');
  });

  it('changes nicks with 303 and kicks with 307, leaving nothing behind', async () => {
    const { svc, sent } = service();
    await joinAs(svc, 'a@example', 'r', 'Al');
    await instant(svc, 'a@example', 'r');
    await joinAs(svc, 'b@example', 'r', 'Bo');
    sent.length = 0;
    await joinAs(svc, 'b@example', 'r', 'Bob');
    const toA = sent.filter((s) => s.attrs.to === 'a@example/r');
    expect(toA.map((p) => `${p.attrs.from} ${p.attrs.type ?? 'available'} ${codesOf(p).join(',')}`)).toEqual([`r@${MUC}/Bo unavailable 303`, `r@${MUC}/Bob available `]);
    const room = svc.rooms.get('r')!;
    await adminSet(svc, room, parseJid('a@example/r'), x('query', null, x('item', { nick: 'Bob', role: 'none' })));
    expect(room.occupants.has('Bob')).toBe(false);
    expect(room.bySession.has('b@example/r')).toBe(false);
    expect(codesOf(sent.at(-1)!)).toEqual([110, 307]);
    // A refused admin request (one bad item) changes nothing.
    expect(await refusal(adminSet(svc, room, parseJid('a@example/r'), x('query', null, x('item', { jid: 'm@example', affiliation: 'member' }), x('item', { jid: 'a@example', affiliation: 'none' }))))).toBe('conflict');
    expect(room.affiliation('m@example')).toBe('none');
  });

  it('answers a join from a session already in the room with the whole join again (a client that lost track)', async () => {
    const { svc, sent } = service();
    await joinAs(svc, 'a@example', 'r', 'Al');
    await instant(svc, 'a@example', 'r');
    await joinAs(svc, 'b@example', 'r', 'Bo');
    sent.length = 0;
    await occupantPresenceIn(svc, x('presence', null, x('x', { xmlns: 'http://jabber.org/protocol/muc' })), parseJid('b@example/r'), parseJid(`r@${MUC}/Bo`));
    const toB = sent.filter((s) => s.attrs.to === 'b@example/r');
    expect(toB.map((s) => `${s.name} ${s.attrs.from} ${s.name === 'presence' ? codesOf(s).join(',') : s.getChild('subject') ? 'subject' : ''}`)).toEqual([
      `presence r@${MUC}/Al `, `presence r@${MUC}/Bo 110`, `message r@${MUC} subject`,
    ]);
    expect(sent.filter((s) => s.attrs.to === 'a@example/r')).toEqual([]);
    expect(svc.rooms.get('r')?.occupants.size).toBe(2);
  });

  it('lets members of a private room (members-only, non-anonymous) read the affiliation lists, as Prosody', async () => {
    const { svc } = service();
    await joinAs(svc, 'a@example', 'r', 'Al');
    const room = svc.rooms.get('r')!;
    await ownerSet(svc, room, parseJid('a@example/r'), x('query', null, submit({ 'muc#roomconfig_membersonly': '1' })));
    await adminSet(svc, room, parseJid('a@example/r'), x('query', null, x('item', { jid: 'm@example', affiliation: 'member' })));
    const owners = (): Promise<string> => refusal(Promise.resolve().then(() => adminGet(svc, room, parseJid('m@example/r'), x('query', null, x('item', { affiliation: 'owner' })))));
    expect(await owners()).toBe('forbidden');
    await ownerSet(svc, room, parseJid('a@example/r'), x('query', null, submit({ 'muc#roomconfig_whois': 'anyone' })));
    expect(await owners()).toBe('accepted');
    expect(adminGet(svc, room, parseJid('m@example/r'), x('query', null, x('item', { affiliation: 'owner' }))).getChildren('item').map((i) => i.attrs.jid)).toEqual(['a@example']);
  });

  it('counts stored presence over the service: a join past the budget gets resource-constraint; leaving, kicks and destroy give it back', async () => {
    const { svc } = service({}, { totalPresenceBytes: 200 });
    await joinAs(svc, 'a@example', 'r', 'Al');
    await instant(svc, 'a@example', 'r');
    await joinAs(svc, 'b@example', 'r', 'Bo');
    const two = svc.presence.used;
    expect(two).toBeGreaterThan(0);
    const big = x('presence', null, x('status', null, 'y'.repeat(300)));
    expect(await refusal(occupantPresenceIn(svc, big, parseJid('c@example/r'), parseJid(`r@${MUC}/Cy`)))).toBe('resource-constraint');
    expect(svc.rooms.get('r')?.occupants.size).toBe(2);
    await occupantPresenceIn(svc, x('presence', { type: 'unavailable' }), parseJid('b@example/r'), parseJid(`r@${MUC}/Bo`));
    expect(svc.presence.used).toBeLessThan(two);
    await svc.destroy(svc.rooms.get('r')!, undefined, undefined);
    expect(svc.presence.used).toBe(0);
  });

  it('removes an occupant whose stanzas bounce (its server or s2s link is gone) with 333; other errors keep it', async () => {
    const { svc, sent } = service();
    await joinAs(svc, 'a@example', 'r', 'Al');
    await instant(svc, 'a@example', 'r');
    await joinAs(svc, 'b@remote.example', 'r', 'Bo');
    const room = svc.rooms.get('r')!;
    const error = (condition: string): Element => x('message', { type: 'error', from: 'b@remote.example/r', to: `r@${MUC}/Al` },
      x('error', { type: 'cancel' }, x(condition, { xmlns: NS.STANZA_ERRORS })));
    await bounced(svc, room, error('not-acceptable'), parseJid('b@remote.example/r'));
    expect(room.occupants.has('Bo')).toBe(true);
    sent.length = 0;
    await bounced(svc, room, error('remote-server-timeout'), parseJid('b@remote.example/r'));
    expect(room.occupants.has('Bo')).toBe(false);
    const toA = sent.find((p) => p.attrs.to === 'a@example/r' && p.attrs.from === `r@${MUC}/Bo`);
    expect(toA?.attrs.type).toBe('unavailable');
    expect(codesOf(toA!)).toEqual([333]);
  });

  it('keeps persistent rooms in the store and loads them back; destroying removes them', async () => {
    const backend = createMemoryBackend();
    const first = service({}, {}, backend).svc;
    await joinAs(first, 'a@example', 'keep', 'Al');
    await ownerSet(first, first.rooms.get('keep')!, parseJid('a@example/r'), x('query', null, submit({ 'muc#roomconfig_persistentroom': '1', 'muc#roomconfig_roomname': 'Kept' })));
    await adminSet(first, first.rooms.get('keep')!, parseJid('a@example/r'), x('query', null, x('item', { jid: 'm@example', affiliation: 'member' })));
    const second = service({}, {}, backend).svc;
    await second.load();
    const room = second.rooms.get('keep')!;
    expect(room.config.name).toBe('Kept');
    expect(room.affiliation('m@example')).toBe('member');
    expect(room.affiliation('a@example')).toBe('owner');
    expect(room.locked).toBe(false);
    await second.destroy(room, undefined, undefined);
    const third = service({}, {}, backend).svc;
    await third.load();
    expect(third.rooms.size).toBe(0);
  });
});
