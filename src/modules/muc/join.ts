// Presence to an occupant JID (room@service/nick): entering a room (creating it first when it
// does not exist), presence updates, nickname changes and leaving, with every refusal XEP-0045
// names, and what a new occupant receives: the others' presence, its own with 110 (and 100, 201),
// the discussion history, then the subject.
// References: XEP-0045 §7.1–§7.2 (entering), §7.6 (nick change), §7.7 (presence change),
// §7.14 (exiting), §10.1 (creating).
import { Element, x } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import type { Jid } from '../../jid/jid.js';
import type { MucService } from './service.js';
import type { Occupant, Room } from './room.js';
import { affRank } from './roles.js';
import { addressed, broadcastPresence, cleanPayload, occupantPresence, NS_MUC } from './broadcast.js';
import { readHistoryRequest } from './history.js';

/** Handle presence from `from` to `to` (room/nick). */
export async function occupantPresenceIn(svc: MucService, stanza: Element, from: Jid, to: Jid): Promise<void> {
  const type = stanza.attrs.type;
  const room = svc.rooms.get(to.local);
  const occ = room?.bySession.get(from.toString());
  if (type === 'error') {
    if (room) await bounced(svc, room, stanza, from);
    return;
  }
  if (type === 'unavailable') {
    if (room && occ) await leave(svc, room, occ, from.toString(), cleanPayload(stanza));
    return;
  }
  if (type !== undefined) return; // subscriptions and probes mean nothing to a room
  // A nick of spaces alone names nobody (§7.2.9: not-acceptable for a nick the room will not take).
  if (to.resource.trim() === '') throw new StanzaError('not-acceptable', 'A nickname needs more than white space');
  const bytes = Buffer.byteLength(stanza.toString());
  if (bytes > svc.limits.presenceBytes) throw new StanzaError('not-acceptable', `presence larger than ${svc.limits.presenceBytes} bytes`);
  svc.presence.check(bytes);
  if (!room || !occ) return join(svc, room, stanza, from, to);
  if (!occ.rate.take()) throw new StanzaError('policy-violation', 'You are changing your presence too fast', 'wait');
  if (occ.nick === to.resource && stanza.getChild('x', NS_MUC)) {
    // A join from a session already in the room (a client that lost track, after a failed
    // self-ping, say): it gets the whole join again, as Prosody does.
    occ.sessions.set(from.toString(), stanza);
    enter(svc, room, occ, from.toString(), false, false, stanza);
    return;
  }
  if (occ.nick === to.resource) {
    occ.sessions.set(from.toString(), stanza);
    broadcastPresence(room, occ, { payload: cleanPayload(stanza) }, svc.send);
    return;
  }
  changeNick(svc, room, occ, stanza, from, to.resource);
}

async function join(svc: MucService, existing: Room | undefined, stanza: Element, from: Jid, to: Jid): Promise<void> {
  const bare = from.bare().toString();
  const full = from.toString();
  const nick = to.resource;
  const created = existing === undefined;
  // A join to a room that does not exist creates it (or is refused by restrict_room_creation).
  const room = existing ?? svc.create(to.local, bare);
  try {
    const aff = svc.affiliation(room, bare);
    const holder = room.occupants.get(nick);
    if (room.locked && aff !== 'owner') throw new StanzaError('item-not-found', 'This room is locked until its owner configures it');
    if (aff === 'outcast') throw new StanzaError('forbidden', 'You are banned from this room');
    if (holder && holder.bare !== bare) throw new StanzaError('conflict', 'That nickname is already in use');
    checkReserved(room, nick, bare);
    if (room.config.membersOnly && affRank(aff) < affRank('member')) throw new StanzaError('registration-required', 'This room is for members only');
    const given = stanza.getChild('x', NS_MUC)?.getChildText('password');
    if (room.config.password !== '' && aff !== 'owner' && given !== room.config.password) throw new StanzaError('not-authorized', 'A password is required to enter this room');
    const cap = Math.min(room.config.maxUsers, svc.limits.maxOccupants);
    if (!holder && room.occupants.size >= cap && (affRank(aff) < affRank('admin') || room.occupants.size >= svc.limits.maxOccupants)) {
      throw new StanzaError('service-unavailable', 'This room is full', 'wait');
    }
    const occ = holder ?? svc.occupant(room, nick, bare);
    if (!holder) {
      occ.role = room.roleFor(aff);
      room.occupants.set(nick, occ);
    }
    occ.sessions.set(full, stanza);
    room.bySession.set(full, occ);
    enter(svc, room, occ, full, holder === undefined, created, stanza);
  } catch (err) {
    if (created) await svc.leftEmpty(room);
    throw err;
  }
}

/** What an occupant's new session receives, and what the room hears of it. */
function enter(svc: MucService, room: Room, occ: Occupant, full: string, newOccupant: boolean, created: boolean, stanza: Element): void {
  // §7.2.3: the presence of those already there first, each as this occupant may see it.
  for (const other of room.occupants.values()) {
    if (other === occ) continue;
    svc.send(addressed(occupantPresence(room, other, {}, false, room.seesJids(occ), room.affiliation(other.bare)), full));
  }
  // §7.2.12: a logged room (muc_mam archiving it) says so (170) to everyone entering.
  const logged = room.config.archiving && svc.archive() !== undefined;
  const selfCodes = [...(room.config.whois === 'anyone' ? [100] : []), ...(logged ? [170] : []), ...(created ? [201] : [])];
  if (newOccupant) {
    broadcastPresence(room, occ, { selfCodes }, svc.send);
  } else {
    // Another session of an occupant: only it needs the full picture.
    svc.send(addressed(occupantPresence(room, occ, { selfCodes }, true, true, svc.affiliation(room, occ.bare)), full));
  }
  const now = Date.now();
  const request = readHistoryRequest(stanza.getChild('x', NS_MUC)?.getChild('history'));
  for (const entry of room.history.select(request, now)) {
    const m = addressed(entry.stanza, full);
    m.children.push(x('delay', { xmlns: NS.DELAY, from: room.jid, stamp: new Date(entry.at).toISOString() }));
    svc.send(m);
  }
  // §7.2.15: the subject last, empty when there is none (clients take it as "join complete").
  const subject = room.subject;
  svc.send(x('message', { type: 'groupchat', from: subject?.nick ? `${room.jid}/${subject.nick}` : room.jid, to: full, id: `subject-${now}` }, x('subject', null, subject?.text ?? '')));
}

/** One session leaves (§7.14); the occupant goes with its last session. */
export async function leave(svc: MucService, room: Room, occ: Occupant, full: string, payload: readonly (Element | string)[], codes: readonly number[] = []): Promise<void> {
  occ.sessions.delete(full);
  room.bySession.delete(full);
  if (occ.sessions.size > 0) {
    svc.send(addressed(occupantPresence(room, occ, { type: 'unavailable', payload, codes }, true, true, room.affiliation(occ.bare)), full));
    return;
  }
  room.occupants.delete(occ.nick);
  broadcastPresence(room, occ, { type: 'unavailable', payload, codes }, svc.send, [full]);
  await svc.leftEmpty(room);
}

/** A nick another user reserved by registration (§7.10) is theirs alone (§7.2.9: conflict). */
function checkReserved(room: Room, nick: string, bare: string): void {
  const owner = room.reservedBy(nick);
  if (owner !== undefined && owner !== bare) throw new StanzaError('conflict', 'That nickname is reserved by another user of this room');
}

/** §7.6: unavailable from the old nick with 303, then available from the new one. */
function changeNick(svc: MucService, room: Room, occ: Occupant, stanza: Element, from: Jid, nick: string): void {
  if (!room.config.allowNickChange && occ.role !== 'moderator') throw new StanzaError('not-acceptable', 'Nickname changes are not allowed in this room');
  const holder = room.occupants.get(nick);
  if (holder && holder !== occ) throw new StanzaError('conflict', 'That nickname is already in use');
  checkReserved(room, nick, occ.bare);
  if (occ.sessions.size > 1) throw new StanzaError('not-acceptable', 'Change your nickname from one session at a time: leave the room from the others first');
  broadcastPresence(room, occ, { type: 'unavailable', codes: [303], nick, payload: [] }, svc.send);
  room.occupants.delete(occ.nick);
  occ.nick = nick;
  occ.sessions.set(from.toString(), stanza);
  room.occupants.set(nick, occ);
  broadcastPresence(room, occ, { payload: cleanPayload(stanza) }, svc.send);
}

/** Error conditions that mean an occupant's session cannot be reached any more. */
const GONE = new Set(['gone', 'item-not-found', 'recipient-unavailable', 'redirect', 'remote-server-not-found', 'remote-server-timeout', 'service-unavailable']);

/**
 * An error bounced back from an occupant's session (its server or the s2s link to it failed,
 * the session went away): that session leaves the room with status 333 so no ghost stays, as
 * Prosody removes occupants whose stanzas bounce. The bounce comes from the occupant's real JID
 * to whichever occupant JID sent the stanza, so it is found by `from`.
 */
export async function bounced(svc: MucService, room: Room, stanza: Element, from: Jid): Promise<void> {
  const occ = room.bySession.get(from.toString());
  if (!occ) return;
  const condition = stanza.getChild('error')?.elements().find((e) => e.xmlns === NS.STANZA_ERRORS)?.name;
  if (stanza.name !== 'presence' && (condition === undefined || !GONE.has(condition))) return;
  await leave(svc, room, occ, from.toString(), [], [333]);
}

/**
 * The s2s link with `domain` was lost ('s2s-remote-lost' on the component: a failed or lost
 * connection, no verified stream with it left either way): every session of that server leaves
 * every room with 333 now, rather than after a stanza bounced at s2s_send_deadline. Resolves
 * with how many sessions left.
 */
export async function domainLost(svc: MucService, domain: string): Promise<number> {
  let n = 0;
  for (const room of [...svc.rooms.values()]) {
    for (const [full, occ] of [...room.sessions()]) {
      if (occ.bare.slice(occ.bare.indexOf('@') + 1) !== domain || !occ.sessions.has(full)) continue;
      await leave(svc, room, occ, full, [], [333]);
      n++;
    }
  }
  return n;
}
