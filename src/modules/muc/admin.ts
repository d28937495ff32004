// The muc#admin iqs: moderators change roles by nick (kick, voice, moderator), admins and owners
// change affiliations by JID (member, ban, admin, owner) and read the lists; each change is
// checked whole before anything is applied, and occupants see its effect with the status codes
// of XEP-0045 (307 kicked, 301 banned, 321 removed as no longer a member).
// References: XEP-0045 §8.2 (kick), §8.3–§8.5 (voice), §9.1–§9.8 (ban, members, moderators),
// §10.3–§10.7 (owners and admins).
import { x, type Element } from '../../xml/element.js';
import { StanzaError } from '../../core/errors.js';
import { tryParseJid, type Jid } from '../../jid/jid.js';
import type { MucService } from './service.js';
import type { Occupant, Room } from './room.js';
import { affiliationChangeError, affRank, mayReadAffiliationList, parseAffiliation, parseRole, roleChangeError, type Affiliation, type Role } from './roles.js';
import { broadcastPresence } from './broadcast.js';

export const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
/** Items one admin request may change. */
const MAX_ITEMS = 100;

/** Give `target` the role `role` (kick when 'none') as `actor`; the room hears of it. */
export async function setRole(svc: MucService, room: Room, actor: Occupant | undefined, target: Occupant, role: Role, reason: string | undefined): Promise<void> {
  const by = actor?.nick;
  if (role === 'none') {
    await removeOccupant(svc, room, target, [307], by, reason);
    return;
  }
  target.role = role;
  broadcastPresence(room, target, { actor: by, reason }, svc.send);
}

/** An occupant leaves with every session, with these codes (kick, ban, members-only). */
async function removeOccupant(svc: MucService, room: Room, target: Occupant, codes: number[], actor: string | undefined, reason: string | undefined, affiliation?: Affiliation): Promise<void> {
  const sessions = [...target.sessions.keys()];
  room.occupants.delete(target.nick);
  for (const s of sessions) room.bySession.delete(s);
  // Its own sessions get the self-presence (110) although it is no longer in the room.
  broadcastPresence(room, target, { type: 'unavailable', codes, actor, reason, affiliation, payload: [] }, svc.send, sessions);
  target.sessions.clear();
  target.role = 'none';
  await svc.leftEmpty(room);
}

/** Set the affiliation of `jid`, with the effects on the occupants it names (§9, §10). */
export async function setAffiliation(svc: MucService, room: Room, actorNick: string | undefined, jid: string, aff: Affiliation, reason: string | undefined): Promise<void> {
  room.setAffiliation(jid, aff);
  for (const o of room.occupantsOfBare(jid)) {
    if (aff === 'outcast') await removeOccupant(svc, room, o, [301], actorNick, reason, 'outcast');
    else if (room.config.membersOnly && affRank(aff) < affRank('member')) await removeOccupant(svc, room, o, [321], actorNick, reason, aff);
    else {
      o.role = room.roleFor(aff);
      broadcastPresence(room, o, { actor: actorNick, reason, affiliation: aff }, svc.send);
    }
  }
}

interface Change { item: Element; kind: 'role' | 'affiliation'; value: string }

/** iq set muc#admin: every item is checked before any is applied, so a refused request changes nothing. */
export async function adminSet(svc: MucService, room: Room, from: Jid, query: Element): Promise<void> {
  const items = query.getChildren('item');
  if (items.length === 0) throw new StanzaError('bad-request', 'No item to change');
  if (items.length > MAX_ITEMS) throw new StanzaError('policy-violation', `At most ${MAX_ITEMS} items at once`);
  const bare = from.bare().toString();
  const actor = room.bySession.get(from.toString());
  const actorAff = svc.affiliation(room, bare);
  const changes: Change[] = items.map((item) => {
    if (item.attrs.role !== undefined && item.attrs.affiliation === undefined) return { item, kind: 'role', value: parseRole(item.attrs.role) };
    if (item.attrs.affiliation !== undefined) return { item, kind: 'affiliation', value: parseAffiliation(item.attrs.affiliation) };
    throw new StanzaError('bad-request', 'An item names a role or an affiliation');
  });
  // Check everything first.
  const owners = new Set(room.owners());
  let added = 0;
  const plan: (() => Promise<void>)[] = [];
  for (const c of changes) {
    const reason = c.item.getChildText('reason');
    if (c.kind === 'role') {
      const nick = c.item.attrs.nick;
      const target = nick !== undefined ? room.occupants.get(nick) : undefined;
      if (!target) throw new StanzaError('item-not-found', 'No occupant has that nickname');
      const err = roleChangeError(actorAff, actor?.role ?? (affRank(actorAff) >= affRank('admin') ? 'moderator' : 'none'), svc.affiliation(room, target.bare), target.role, c.value as Role);
      if (err) throw err;
      plan.push(() => setRole(svc, room, actor, target, c.value as Role, reason));
      continue;
    }
    const jid = tryParseJid(c.item.attrs.jid ?? '')?.bare().toString();
    if (!jid) {
      if (c.item.attrs.nick !== undefined) throw new StanzaError('bad-request', 'Affiliations are changed by JID');
      throw new StanzaError('jid-malformed', 'The item has no valid JID');
    }
    const to = c.value as Affiliation;
    const current = room.affiliation(jid);
    const err = affiliationChangeError(actorAff, current, to);
    if (err) throw err;
    if (current === 'owner' && to !== 'owner') owners.delete(jid);
    if (to === 'owner') owners.add(jid);
    if (current === 'none' && to !== 'none') added++;
    plan.push(() => setAffiliation(svc, room, actor?.nick, jid, to, reason));
  }
  // §10.7: a room always keeps an owner.
  if (owners.size === 0) throw new StanzaError('conflict', 'A room must keep at least one owner');
  if (room.affiliations.size + added > svc.limits.maxAffiliations) throw new StanzaError('policy-violation', `A room has at most ${svc.limits.maxAffiliations} affiliations`);
  for (const step of plan) await step();
  if (changes.some((c) => c.kind === 'affiliation')) await svc.save(room);
}

/** iq get muc#admin: an affiliation list (§9.5, §10.5) or a role list (§8.5, §9.8). */
export function adminGet(svc: MucService, room: Room, from: Jid, query: Element): Element {
  const item = query.getChild('item');
  const bare = from.bare().toString();
  const actorAff = svc.affiliation(room, bare);
  const out = x('query', { xmlns: NS_MUC_ADMIN });
  if (item?.attrs.affiliation !== undefined) {
    const list = parseAffiliation(item.attrs.affiliation);
    if (list === 'none') throw new StanzaError('bad-request', 'There is no list of unaffiliated users');
    if (!mayReadAffiliationList(actorAff, room.config.membersOnly && room.config.whois === 'anyone')) throw new StanzaError('forbidden', 'You may not read that list');
    for (const [jid, a] of room.affiliations) {
      if (a !== list) continue;
      const nick = room.occupantsOfBare(jid)[0]?.nick;
      out.append(x('item', { affiliation: a, jid, nick }));
    }
    return out;
  }
  if (item?.attrs.role !== undefined) {
    const role = parseRole(item.attrs.role);
    const actor = room.bySession.get(from.toString());
    if (actor?.role !== 'moderator' && affRank(actorAff) < affRank('admin')) throw new StanzaError('forbidden', 'Only moderators may read role lists');
    for (const o of room.occupants.values()) {
      if (o.role !== role) continue;
      out.append(x('item', { affiliation: room.affiliation(o.bare), role: o.role, nick: o.nick, jid: o.sessions.keys().next().value as string }));
    }
    return out;
  }
  throw new StanzaError('bad-request', 'Ask for an affiliation or a role list');
}

/** Members-only just switched on (§10.2, status 322): everyone below member leaves. */
export async function enforceMembersOnly(svc: MucService, room: Room): Promise<void> {
  for (const o of [...room.occupants.values()]) {
    if (affRank(svc.affiliation(room, o.bare)) < affRank('member')) await removeOccupant(svc, room, o, [322], undefined, undefined);
  }
}

