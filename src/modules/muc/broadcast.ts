// Occupant presence as each recipient sees it: the occupant's own presence with the room's
// `<x xmlns='…muc#user'>` (affiliation, role, the real JID only for those allowed to see it),
// the status codes of the occasion (110 to the occupant itself) and its occupant id; and the
// fan-out of one stanza to every session in the room, built once per variant, not per recipient.
// References: XEP-0045 §7.2.3–§7.2.6 (presence of occupants), §15.6 (status codes), XEP-0421.
import { Element, x } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import type { Affiliation } from './roles.js';
import type { Occupant, Room } from './room.js';
import { NS_OCCUPANT_ID } from './occupant-id.js';

/** What an occupant's presence says beyond the occupant itself. */
export interface PresenceOccasion {
  type?: 'unavailable';
  /** Status codes every recipient sees (301, 303, 307, 321, 322, 332, …). */
  codes?: readonly number[];
  /** Codes only the occupant itself sees, besides 110 (100, 201, 210). */
  selfCodes?: readonly number[];
  /** The new nick (303). */
  nick?: string;
  /** Who did it, and why (kick, ban, affiliation change). */
  actor?: string;
  reason?: string;
  /** `<destroy/>` of a destroyed room. */
  destroy?: Element;
  /** The affiliation to show (a changed one); the room's by default. */
  affiliation?: Affiliation;
  /** The stanza's own children (status, show, caps …); the occupant's stored presence by default. */
  payload?: readonly (Element | string)[];
}

/** Children of a client's presence the room does not pass on (its own muc elements, forged ids). */
export function cleanPayload(p: Element): (Element | string)[] {
  return p.children.filter((c) => typeof c === 'string' || !(
    (c.name === 'x' && (c.xmlns === NS.MUC_USER || c.xmlns === NS_MUC)) || c.xmlns === NS_OCCUPANT_ID));
}

export const NS_MUC = 'http://jabber.org/protocol/muc';

/** The presence of `o` for a recipient: `self` is the occupant itself, `withJid` may see real JIDs. */
export function occupantPresence(room: Room, o: Occupant, occ: PresenceOccasion, self: boolean, withJid: boolean, affiliation: Affiliation): Element {
  const first = o.sessions.values().next().value as Element | undefined;
  const payload = occ.payload ?? (first ? cleanPayload(first) : []);
  const p = new Element('presence', { from: `${room.jid}/${o.nick}`, ...(occ.type ? { type: occ.type } : {}) }, [...payload]);
  const realJid = o.sessions.keys().next().value as string | undefined;
  const item = x('item', {
    affiliation,
    role: occ.type === 'unavailable' && occ.nick === undefined ? 'none' : o.role,
    jid: withJid || self ? realJid : undefined,
    nick: occ.nick,
  });
  if (occ.actor !== undefined) item.append(x('actor', { nick: occ.actor }));
  if (occ.reason) item.append(x('reason', null, occ.reason));
  const mx = x('x', { xmlns: NS.MUC_USER }, item);
  if (occ.destroy) mx.append(occ.destroy);
  const codes = new Set([...(occ.codes ?? []), ...(self ? [110, ...(occ.selfCodes ?? [])] : [])]);
  for (const c of [...codes].sort((a, b) => a - b)) mx.append(x('status', { code: String(c) }));
  p.append(mx, x('occupant-id', { xmlns: NS_OCCUPANT_ID, id: o.id }));
  return p;
}

/** A stanza addressed to one more recipient, sharing the (unchanged) children. */
export function addressed(stanza: Element, to: string): Element {
  return new Element(stanza.name, { ...stanza.attrs, to }, [...stanza.children]);
}

/**
 * Send `o`'s presence to every session in the room (and to `extra` sessions that just left),
 * each recipient getting the variant it may see.
 */
export function broadcastPresence(room: Room, o: Occupant, occ: PresenceOccasion, send: (el: Element) => void, extra: readonly string[] = []): void {
  const affiliation = occ.affiliation ?? room.affiliation(o.bare);
  const variants = new Map<string, Element>();
  const variant = (self: boolean, withJid: boolean): Element => {
    const key = `${self}${withJid}`;
    let v = variants.get(key);
    if (!v) variants.set(key, (v = occupantPresence(room, o, occ, self, withJid, affiliation)));
    return v;
  };
  for (const [session, r] of room.sessions()) send(addressed(variant(r === o, room.seesJids(r)), session));
  for (const session of extra) send(addressed(variant(true, true), session));
}

/** Send a stanza (from the room or an occupant) to every session in the room. */
export function broadcast(room: Room, stanza: Element, send: (el: Element) => void): void {
  for (const [session] of room.sessions()) send(addressed(stanza, session));
}
