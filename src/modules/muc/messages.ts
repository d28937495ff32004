// Messages in a room: groupchat from occupants to everyone (with the occupant id, kept in the
// history), subject changes, private messages between occupants through their occupant JIDs,
// mediated invitations and declines, and voice requests in moderated rooms; each occupant's
// messages are rate-limited so a flood is refused with a stanza error and the room carries on.
// References: XEP-0045 §7.4 (groupchat), §7.5 (private messages), §7.8.2 (mediated
// invitations), §7.13 (voice requests), §8.1 (subject), XEP-0421 (occupant id).
import { Element, x } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import { tryParseJid, type Jid } from '../../jid/jid.js';
import type { MucService } from './service.js';
import type { Occupant, Room } from './room.js';
import { addressed, broadcast } from './broadcast.js';
import { NS_OCCUPANT_ID } from './occupant-id.js';
import { affRank, roleRank } from './roles.js';
import { formElement, submittedForm } from '../adhoc/dataforms.js';
import { setRole } from './admin.js';
import { stripClaims, withStanzaId } from '../mam/stanza-id.js';

export const NS_MUC_REQUEST = 'http://jabber.org/protocol/muc#request';
/** Invitations one message may carry (each is a message the room sends). */
const MAX_INVITES = 10;

/** The occupant behind a real full JID, or not-acceptable (§7.4: only occupants speak). */
function speaker(room: Room, from: Jid): Occupant {
  const occ = room.bySession.get(from.toString());
  if (!occ) throw new StanzaError('not-acceptable', 'You are not currently connected to this room');
  return occ;
}

/** One token of the occupant's rate, or the flood error (muc_event_rate). */
function paced(occ: Occupant): void {
  if (!occ.rate.take()) throw new StanzaError('policy-violation', 'You are sending too fast; the room is throttling you', 'wait');
}

/** The message as the room passes it on: from the occupant JID, its occupant id, no `to`, no stanza-id claiming to be the room's (XEP-0359 §4). */
function fromOccupant(room: Room, occ: Occupant, stanza: Element): Element {
  const children = stripClaims(stanza, room.jid).children.filter((c) => typeof c === 'string' || c.xmlns !== NS_OCCUPANT_ID);
  const { to: _to, from: _from, ...attrs } = stanza.attrs;
  return new Element('message', { ...attrs, from: `${room.jid}/${occ.nick}` }, [...children, x('occupant-id', { xmlns: NS_OCCUPANT_ID, id: occ.id })]);
}

/** A message to the room's bare JID. */
export async function roomMessage(svc: MucService, room: Room, stanza: Element, from: Jid): Promise<true | undefined> {
  const type = stanza.attrs.type ?? 'normal';
  if (type === 'error') return true;
  if (type === 'groupchat') {
    await groupchat(svc, room, stanza, from);
    return true;
  }
  const mx = stanza.getChild('x', NS.MUC_USER);
  if (mx?.getChild('invite')) return invite(svc, room, mx, from);
  if (mx?.getChild('decline')) return decline(svc, room, mx, from);
  const form = stanza.getChild('x', NS.DATA_FORMS);
  if (form && form.getChildren('field').some((f) => f.attrs.var === 'FORM_TYPE' && f.getChildText('value') === NS_MUC_REQUEST)) {
    await voiceRequest(svc, room, form, from);
    return true;
  }
  return undefined; // the router answers the rest with service-unavailable
}

async function groupchat(svc: MucService, room: Room, stanza: Element, from: Jid): Promise<void> {
  const occ = speaker(room, from);
  paced(occ);
  const subject = stanza.getChild('subject');
  const body = stanza.getChild('body');
  if (subject && !body) {
    const mayChange = occ.role === 'moderator' || (room.config.changeSubject && roleRank(occ.role) >= roleRank('participant'));
    if (!mayChange) throw new StanzaError('forbidden', 'You are not allowed to change the subject');
    const text = subject.text();
    if (Buffer.byteLength(text) > svc.limits.subjectBytes) throw new StanzaError('not-acceptable', `The subject is longer than ${svc.limits.subjectBytes} bytes`);
    room.subject = { text, nick: occ.nick };
    await svc.save(room);
    broadcast(room, fromOccupant(room, occ, x('message', { type: 'groupchat', id: stanza.attrs.id }, x('subject', null, text))), svc.send);
    return;
  }
  if (roleRank(occ.role) < roleRank('participant')) throw new StanzaError('forbidden', 'You have no voice in this moderated room');
  let out = fromOccupant(room, occ, stanza);
  // muc_mam: a message with a body is archived before anyone sees it, and everyone (the
  // history too) sees its archive id (XEP-0359; Prosody archives what it keeps as history).
  const archive = body && room.config.archiving ? svc.archive() : undefined;
  const id = archive ? await archive.append(room, out, occ) : undefined;
  if (id !== undefined) out = withStanzaId(out, room.jid, id);
  broadcast(room, out, svc.send);
  if (body) room.history.add(out, Date.now());
}

/** A private message to an occupant (§7.5), or an iq/other stanza refused for a non-occupant. */
export function privateMessage(svc: MucService, room: Room, stanza: Element, from: Jid, nick: string): void {
  const type = stanza.attrs.type ?? 'normal';
  if (type === 'error') return;
  if (type === 'groupchat') throw new StanzaError('bad-request', 'Groupchat messages go to the room, not to an occupant');
  const occ = speaker(room, from);
  const target = room.occupants.get(nick);
  if (!target) throw new StanzaError('item-not-found', 'No occupant has that nickname');
  const policy = room.config.allowPm;
  const allowed = policy === 'anyone' || (policy === 'participants' && roleRank(occ.role) >= roleRank('participant')) || (policy === 'moderators' && occ.role === 'moderator');
  if (!allowed) throw new StanzaError('forbidden', 'Private messages are not allowed in this room');
  paced(occ);
  const out = fromOccupant(room, occ, stanza);
  // XEP-0045 §7.5: the <x/> tells the recipient's client this came through a room.
  if (!stanza.getChild('x', NS.MUC_USER)) out.children.push(x('x', { xmlns: NS.MUC_USER }));
  for (const session of target.sessions.keys()) svc.send(addressed(out, session));
}

function invite(svc: MucService, room: Room, mx: Element, from: Jid): true {
  const occ = speaker(room, from);
  paced(occ);
  const aff = svc.affiliation(room, occ.bare);
  const mayInvite = !room.config.membersOnly || room.config.allowInvites || affRank(aff) >= affRank('admin');
  if (!mayInvite) throw new StanzaError('forbidden', 'Only admins may invite to this members-only room');
  const invites = mx.getChildren('invite');
  if (invites.length > MAX_INVITES) throw new StanzaError('policy-violation', `At most ${MAX_INVITES} invitations at once`);
  const targets = invites.map((inv) => {
    const to = tryParseJid(inv.attrs.to ?? '');
    if (!to) throw new StanzaError('jid-malformed', 'The invitee is not a JID');
    return { to, reason: inv.getChildText('reason') };
  });
  for (const { to, reason } of targets) {
    // §7.8.2: a members-only room makes the invitee a member, so the invitation can be used.
    if (room.config.membersOnly && room.affiliation(to.bare().toString()) === 'none' && room.affiliations.size < svc.limits.maxAffiliations) {
      room.setAffiliation(to.bare().toString(), 'member');
    }
    const inv = x('invite', { from: from.bare().toString() }, reason !== undefined ? x('reason', null, reason) : undefined);
    const body = `${from.bare().toString()} invites you to the room ${room.jid}${reason ? ` (${reason})` : ''}`;
    svc.send(x('message', { from: room.jid, to: to.toString() }, x('body', null, body),
      x('x', { xmlns: NS.MUC_USER }, inv, room.config.password ? x('password', null, room.config.password) : undefined),
      x('x', { xmlns: 'jabber:x:conference', jid: room.jid, reason })));
  }
  if (room.config.membersOnly) svc.saveLater(room);
  return true;
}

function decline(svc: MucService, room: Room, mx: Element, from: Jid): true {
  const d = mx.getChild('decline') as Element;
  const to = tryParseJid(d.attrs.to ?? '');
  if (!to) throw new StanzaError('jid-malformed', 'The inviter is not a JID');
  const reason = d.getChildText('reason');
  svc.send(x('message', { from: room.jid, to: to.toString() },
    x('x', { xmlns: NS.MUC_USER }, x('decline', { from: from.bare().toString() }, reason !== undefined ? x('reason', null, reason) : undefined))));
  return true;
}

/** §7.13 (a visitor asks for voice) and §8.6 (a moderator answers the form). */
async function voiceRequest(svc: MucService, room: Room, form: Element, from: Jid): Promise<void> {
  const occ = speaker(room, from);
  paced(occ);
  if (form.attrs.type === 'submit' && occ.role === 'moderator') {
    const sub = submittedForm(form, NS_MUC_REQUEST);
    if (sub.get('muc#request_allow')?.[0] !== '1' && sub.get('muc#request_allow')?.[0] !== 'true') return;
    const nick = sub.get('muc#roomnick')?.[0];
    const target = nick !== undefined ? room.occupants.get(nick) : undefined;
    if (target && target.role === 'visitor') await setRole(svc, room, occ, target, 'participant', undefined);
    return;
  }
  if (!room.config.moderated || !room.config.voiceRequests) throw new StanzaError('not-allowed', 'Voice requests are not accepted in this room');
  if (occ.role !== 'visitor') return;
  const request = formElement('form', {
    title: 'Voice request', formType: NS_MUC_REQUEST,
    instructions: `To approve this request for voice, select the "Grant voice" checkbox and click OK.`,
    fields: [
      { var: 'muc#role', type: 'list-single', label: 'Requested role', values: ['participant'], options: ['participant'] },
      { var: 'muc#jid', type: 'jid-single', label: 'User ID', values: [occ.bare] },
      { var: 'muc#roomnick', type: 'text-single', label: 'Room Nickname', values: [occ.nick] },
      { var: 'muc#request_allow', type: 'boolean', label: 'Grant voice to this person?', values: ['0'] },
    ],
  });
  for (const m of room.occupants.values()) {
    if (m.role !== 'moderator') continue;
    for (const session of m.sessions.keys()) svc.send(x('message', { from: room.jid, to: session }, request));
  }
}
