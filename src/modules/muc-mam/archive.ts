// What a room archive keeps and shows (Prosody's mod_muc_mam): the groupchat message as the room
// broadcast it (from room/nick, with its occupant id), under `with` = "message<groupchat" as
// Prosody stores it. A non-anonymous room also keeps the sender's real JID in a muc#user item;
// whoever queries a room that is not (or no longer) non-anonymous gets the message without it,
// so a semi-anonymous room never shows real JIDs, from its archive either.
import { Element, x } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import type { Occupant, Room } from '../muc/room.js';

/** The `with` of every archived groupchat message (Prosody's; the query's `with` field is ignored, as there). */
export const GROUPCHAT_WITH = 'message<groupchat';

/** The copy to archive: no `to`, in jabber:client, and in a non-anonymous room the sender's real JID. */
export function storedCopy(room: Room, stanza: Element, sender: Occupant): Element {
  const { to: _to, ...attrs } = stanza.attrs;
  const children = [...stanza.children];
  if (room.config.whois === 'anyone') {
    children.push(x('x', { xmlns: NS.MUC_USER }, x('item', { jid: sender.bare, affiliation: room.affiliation(sender.bare), role: sender.role })));
  }
  // In the client namespace, so the copy stays a jabber:client message inside <forwarded/> (as Prosody sets it).
  return new Element(stanza.name, { ...attrs, xmlns: NS.CLIENT }, children);
}

/** What an archived message shows to a querier of `room`: without muc#user data unless the room is non-anonymous. */
export function shownCopy(room: Room, archived: Element): Element {
  if (room.config.whois === 'anyone') return archived;
  return new Element(archived.name, archived.attrs, archived.children.filter((c) => typeof c === 'string' || !(c.local === 'x' && c.xmlns === NS.MUC_USER)));
}
