// Service discovery of the MUC service and its rooms: the service's identity and its public
// rooms; a room's identity, features (muc_public, muc_persistent, …) and muc#roominfo form,
// and its occupants for those in it. A locked room is not found by anyone but its owner.
// References: XEP-0045 §6.1–§6.5 (discovery), §15.5.4 (muc#roominfo), XEP-0030, XEP-0128.
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import type { Jid } from '../../jid/jid.js';
import type { MucService } from './service.js';
import type { Room } from './room.js';
import { formElement } from '../adhoc/dataforms.js';
import { NS_OCCUPANT_ID } from './occupant-id.js';
import { NS_MUC } from './broadcast.js';
import { NS_MUC_REQUEST } from './messages.js';
import { NS_STABLE_ID } from './room-archive.js';
import { NS_REGISTER } from './register.js';

/** Items the service lists at most in one disco#items answer. */
const MAX_LISTED = 1000;

/** disco#info of the service itself. */
export function serviceInfo(title: string): Element {
  const q = x('query', { xmlns: NS.DISCO_INFO }, x('identity', { category: 'conference', type: 'text', name: title }));
  for (const f of [NS.DISCO_INFO, NS.DISCO_ITEMS, NS_MUC, NS_OCCUPANT_ID, NS.PING].sort()) q.append(x('feature', { var: f }));
  return q;
}

/** disco#items of the service: the public rooms (§6.3). */
export function serviceItems(svc: MucService): Element {
  const q = x('query', { xmlns: NS.DISCO_ITEMS });
  let n = 0;
  for (const room of svc.rooms.values()) {
    if (!room.config.public || room.locked) continue;
    if (n++ >= MAX_LISTED) break;
    q.append(x('item', { jid: room.jid, name: room.config.name || room.node }));
  }
  return q;
}

/** The room is visible to this JID (a locked room only to its owners, §10.1.1). */
function visible(svc: MucService, room: Room | undefined, from: Jid): Room {
  if (!room || (room.locked && svc.affiliation(room, from.bare().toString()) !== 'owner')) throw new StanzaError('item-not-found', 'No such room');
  return room;
}

/** §7.12: disco#info node x-roomuser-item names the asker's reserved nick (no identity without one); other nodes do not exist. */
function nodeInfo(room: Room, from: Jid, node: string): Element {
  if (node !== 'x-roomuser-item') throw new StanzaError('item-not-found', 'No such node');
  const nick = room.nicks.get(from.bare().toString());
  return x('query', { xmlns: NS.DISCO_INFO, node }, nick !== undefined ? x('identity', { category: 'conference', type: 'text', name: nick }) : undefined);
}

/** disco#info of a room (§6.4), with the muc#roominfo form; or of its node `node`. */
export function roomInfo(svc: MucService, found: Room | undefined, from: Jid, node?: string): Element {
  const room = visible(svc, found, from);
  if (node !== undefined) return nodeInfo(room, from, node);
  const c = room.config;
  const features = [
    NS_MUC, NS.DISCO_INFO, NS.DISCO_ITEMS, NS_OCCUPANT_ID, NS_MUC_REQUEST, NS_REGISTER, 'http://jabber.org/protocol/muc#self-ping-optimization',
    c.public ? 'muc_public' : 'muc_hidden',
    c.persistent ? 'muc_persistent' : 'muc_temporary',
    c.membersOnly ? 'muc_membersonly' : 'muc_open',
    c.moderated ? 'muc_moderated' : 'muc_unmoderated',
    c.password ? 'muc_passwordprotected' : 'muc_unsecured',
    c.whois === 'anyone' ? 'muc_nonanonymous' : 'muc_semianonymous',
  ];
  // muc_mam: stanza-ids by the room, and the archive with ids stable when the room archives.
  if (svc.archive()) features.push(NS.SID);
  if (svc.archive() && c.archiving) features.push(NS.MAM, NS.MAM1, NS.MAM_EXTENDED, NS_STABLE_ID);
  const q = x('query', { xmlns: NS.DISCO_INFO }, x('identity', { category: 'conference', type: 'text', name: c.name || room.node }));
  for (const f of features.sort()) q.append(x('feature', { var: f }));
  q.append(formElement('result', {
    formType: 'http://jabber.org/protocol/muc#roominfo',
    fields: [
      { var: 'muc#roominfo_description', type: 'text-single', label: 'Description', values: [c.description] },
      { var: 'muc#roominfo_occupants', type: 'text-single', label: 'Number of occupants', values: [String(room.occupants.size)] },
      { var: 'muc#roominfo_subject', type: 'text-single', label: 'Subject', values: [room.subject?.text ?? ''] },
      { var: 'muc#roomconfig_roomname', type: 'text-single', label: 'Title', values: [c.name] },
      { var: 'muc#roomconfig_changesubject', type: 'boolean', label: 'Occupants may change the subject', values: [c.changeSubject ? '1' : '0'] },
      { var: 'muc#roominfo_lang', type: 'text-single', label: 'Language', values: [c.language] },
      { var: 'muc#maxhistoryfetch', type: 'text-single', label: 'Maximum number of history messages returned by room', values: [String(c.historyLength)] },
      { var: 'muc#roomconfig_allowinvites', type: 'boolean', label: 'Occupants may invite others', values: [c.allowInvites ? '1' : '0'] },
    ],
  }));
  return q;
}

/** disco#items of a room: its occupants, for those in it only (§6.5 leaves it to the service). */
export function roomItems(svc: MucService, found: Room | undefined, from: Jid): Element {
  const room = visible(svc, found, from);
  const q = x('query', { xmlns: NS.DISCO_ITEMS });
  if (!room.bySession.has(from.toString())) return q;
  for (const o of room.occupants.values()) q.append(x('item', { jid: `${room.jid}/${o.nick}`, name: o.nick }));
  return q;
}
