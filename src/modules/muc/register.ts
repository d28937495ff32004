// Registering with a room (XEP-0045 §7.10), as Prosody's muc register.lib.lua: an affiliated user
// (a member or better; outcasts and strangers are refused) reserves a nickname, which makes them
// a member if they were not one; nobody else may then join or change to that nick (§7.2.9
// conflict); `<remove/>` drops the reservation and a plain membership with it. The reserved nick
// is what a client finds with disco#info node `x-roomuser-item` (§7.12) and is kept with the
// room's affiliations, so it is bounded by muc_max_affiliations.
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import { JidError, prepResource, type Jid } from '../../jid/jid.js';
import { formElement, submittedForm, type FormSpec } from '../adhoc/dataforms.js';
import type { MucService } from './service.js';
import type { Room } from './room.js';

export const NS_REGISTER = 'jabber:iq:register';
const FORM_TYPE = 'http://jabber.org/protocol/muc#register';
const NICK_FIELD = 'muc#register_roomnick';

const REGISTRATION_FORM: FormSpec = {
  title: 'Register a nickname in this room',
  formType: FORM_TYPE,
  fields: [{ var: NICK_FIELD, type: 'text-single', label: 'Nickname', required: true }],
};

/** The user's affiliation if they may register; forbidden for outcasts, registration-required for strangers (as Prosody). */
function registrant(svc: MucService, room: Room, bare: string): string {
  const aff = svc.affiliation(room, bare);
  if (aff === 'outcast') throw new StanzaError('forbidden', 'You are banned from this room', 'auth');
  if (aff === 'none') throw new StanzaError('registration-required', 'Only members of this room may register a nickname', 'auth');
  return aff;
}

/** iq get: the reserved nick (`<registered/>`) or the form to reserve one. */
export function registerGet(svc: MucService, room: Room, from: Jid): Element {
  const bare = from.bare().toString();
  registrant(svc, room, bare);
  const nick = room.nicks.get(bare);
  if (nick !== undefined) return x('query', { xmlns: NS_REGISTER }, x('registered'), x('username', null, nick));
  return x('query', { xmlns: NS_REGISTER }, x('instructions', null, 'Choose the nickname to reserve in this room'), formElement('form', REGISTRATION_FORM));
}

/** iq set: reserve the submitted nick, or drop the reservation with <remove/>. */
export async function registerSet(svc: MucService, room: Room, from: Jid, query: Element): Promise<undefined> {
  const bare = from.bare().toString();
  const aff = registrant(svc, room, bare);
  if (query.getChild('remove')) {
    room.nicks.delete(bare);
    if (aff === 'member') room.setAffiliation(bare, 'none');
    await svc.save(room);
    return undefined;
  }
  const form = query.getChild('x', NS.DATA_FORMS);
  if (!form) throw new StanzaError('bad-request', 'Send the registration form');
  const wanted = submittedForm(form, FORM_TYPE).get(NICK_FIELD)?.[0]?.trim() ?? '';
  let nick: string;
  try {
    nick = prepResource(wanted);
  } catch (err) {
    if (err instanceof JidError || wanted === '') throw new StanzaError('bad-request', 'That is not a valid nickname');
    throw err;
  }
  if (nick === '') throw new StanzaError('bad-request', 'That is not a valid nickname');
  const holder = room.occupants.get(nick);
  if (holder && holder.bare !== bare) throw new StanzaError('conflict', 'That nickname is in use in this room');
  const owner = room.reservedBy(nick);
  if (owner !== undefined && owner !== bare) throw new StanzaError('conflict', 'That nickname is reserved by someone else');
  room.nicks.set(bare, nick);
  await svc.save(room);
  return undefined;
}
