// The muc#owner iqs: the configuration form (a new room's owner gets it to make the room
// "reserved", or submits an empty form for an "instant" room; either unlocks it), a config
// change with its consequences (status 104, 172/173 for anonymity, members-only removing
// non-members with 322), cancelling a new room's creation, and destroying a room.
// References: XEP-0045 §10.1 (creating), §10.2 (configuring), §10.9 (destroying).
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import { tryParseJid, type Jid } from '../../jid/jid.js';
import type { MucService } from './service.js';
import type { Room } from './room.js';
import { configForm, readConfigForm } from './config-form.js';
import { broadcast, broadcastPresence } from './broadcast.js';
import { enforceMembersOnly } from './admin.js';
import { FIELD_BYTES } from './room-config.js';

export const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';

function ownerOnly(svc: MucService, room: Room, from: Jid): void {
  if (svc.affiliation(room, from.bare().toString()) !== 'owner') throw new StanzaError('forbidden', 'Only owners may configure this room');
}

/** iq get muc#owner: the configuration form (§10.2). */
export function ownerGet(svc: MucService, room: Room, from: Jid): Element {
  ownerOnly(svc, room, from);
  return x('query', { xmlns: NS_MUC_OWNER }, configForm(room.config, svc.limits.maxOccupants, svc.limits.maxHistory, svc.archive() !== undefined));
}

/** iq set muc#owner: a submitted or cancelled form, or `<destroy/>`. */
export async function ownerSet(svc: MucService, room: Room, from: Jid, query: Element): Promise<void> {
  ownerOnly(svc, room, from);
  const destroy = query.getChild('destroy');
  if (destroy) {
    const venue = destroy.attrs.jid;
    if (venue !== undefined && !tryParseJid(venue)) throw new StanzaError('jid-malformed', 'The alternate venue is not a JID');
    const reason = destroy.getChildText('reason');
    if (reason !== undefined && Buffer.byteLength(reason) > FIELD_BYTES.description) throw new StanzaError('not-acceptable', 'The reason is too long');
    await svc.destroy(room, venue, reason, destroy.getChildText('password'));
    return;
  }
  const form = query.getChild('x', NS.DATA_FORMS);
  if (!form) throw new StanzaError('bad-request', 'Submit or cancel the configuration form');
  if (form.attrs.type === 'cancel') {
    // §10.1.3: cancelling the initial configuration destroys the new room.
    if (room.locked) await svc.destroy(room, undefined, undefined);
    return;
  }
  const before = room.config;
  const after = readConfigForm(form, before, svc.limits.maxOccupants, svc.limits.maxHistory);
  room.config = after;
  room.history.resize(Math.min(after.historyLength, svc.limits.maxHistory));
  const wasLocked = room.locked;
  svc.unlock(room);
  await svc.save(room);
  // An owner may configure from outside: a room made temporary with nobody in it goes now.
  await svc.leftEmpty(room);
  if (wasLocked) return;
  const codes = [104];
  if (before.whois !== after.whois) codes.push(after.whois === 'anyone' ? 172 : 173);
  // §10.2.1: 170 archiving turned on, 171 off (as Prosody's muc_mam).
  if (before.archiving !== after.archiving && svc.archive()) codes.push(after.archiving ? 170 : 171);
  broadcast(room, x('message', { type: 'groupchat', from: room.jid, id: `config-${Date.now()}` }, x('x', { xmlns: NS.MUC_USER }, ...codes.map((c) => x('status', { code: String(c) })))), svc.send);
  if (!before.membersOnly && after.membersOnly) await enforceMembersOnly(svc, room);
  if (before.whois !== after.whois) {
    // The real JIDs each occupant may see change with whois: everyone gets everyone's presence
    // again. Roles stay as they are when moderation changes (as Prosody): only newcomers get the
    // new default.
    for (const o of room.occupants.values()) broadcastPresence(room, o, {}, svc.send);
  }
}
