// The owner configuration form (muc#roomconfig) of a room: built from its config, and a
// submission read into a new config with every value checked first, so a bad field changes
// nothing. Unknown fields are ignored, as Prosody does (clients send back whole forms).
// References: XEP-0045 §10.2, §15.5.3 (muc#roomconfig fields), XEP-0004 (data forms).
import type { Element } from '../../xml/element.js';
import { StanzaError } from '../../core/errors.js';
import { formElement, submittedForm, type Field } from '../adhoc/dataforms.js';
import { FIELD_BYTES, type PmPolicy, type RoomConfig, type Whois } from './room-config.js';

export const NS_ROOMCONFIG = 'http://jabber.org/protocol/muc#roomconfig';
/** ejabberd's name for the nickname-change switch (XEP-0045 registers none). */
const CHANGENICK = 'x-muc#roomconfig_canchangenick';
const VOICEREQUESTS = 'muc#roomconfig_allowvoicerequests';

const bool = (b: boolean): string[] => [b ? '1' : '0'];
const WHOIS: readonly Whois[] = ['moderators', 'anyone'];
const PM: readonly PmPolicy[] = ['anyone', 'participants', 'moderators', 'none'];

/** The form to fill in (`form`) for a room's current config; `maxCap` is muc_max_occupants; `archive`: muc_mam is loaded (the archiving switch is offered). */
export function configForm(c: RoomConfig, maxCap: number, maxHistory: number, archive = false): Element {
  const fields: Field[] = [
    { var: 'muc#roomconfig_roomname', type: 'text-single', label: 'Title', values: [c.name] },
    { var: 'muc#roomconfig_roomdesc', type: 'text-single', label: 'Description', values: [c.description] },
    { var: 'muc#roomconfig_lang', type: 'text-single', label: 'Language tag for room (e.g. \'en\', \'de\', \'fr\' etc.)', values: [c.language] },
    { var: 'muc#roomconfig_persistentroom', type: 'boolean', label: 'Persistent (room is not destroyed when the last occupant leaves)', values: bool(c.persistent) },
    { var: 'muc#roomconfig_publicroom', type: 'boolean', label: 'Include room information in public lists', values: bool(c.public) },
    { var: 'muc#roomconfig_membersonly', type: 'boolean', label: 'Only allow members to join', values: bool(c.membersOnly) },
    { var: 'muc#roomconfig_moderatedroom', type: 'boolean', label: 'Moderated (only occupants with voice may speak)', values: bool(c.moderated) },
    { var: 'muc#roomconfig_passwordprotectedroom', type: 'boolean', label: 'Password protected', values: bool(c.password !== '') },
    { var: 'muc#roomconfig_roomsecret', type: 'text-private', label: 'Password', values: [c.password] },
    { var: 'muc#roomconfig_whois', type: 'list-single', label: 'Addresses (JIDs) of room occupants may be viewed by:', options: [{ label: 'Moderators only', value: 'moderators' }, { label: 'Anyone', value: 'anyone' }], values: [c.whois] },
    { var: 'muc#roomconfig_maxusers', type: 'text-single', label: `Maximum number of occupants (at most ${maxCap})`, values: [String(c.maxUsers)] },
    { var: 'muc#roomconfig_historylength', type: 'text-single', label: `Maximum number of history messages returned by room (at most ${maxHistory})`, values: [String(c.historyLength)] },
    { var: 'muc#roomconfig_allowinvites', type: 'boolean', label: 'Allow members to invite new members', values: bool(c.allowInvites) },
    { var: 'muc#roomconfig_changesubject', type: 'boolean', label: 'Allow anyone to set the room\'s subject', values: bool(c.changeSubject) },
    { var: CHANGENICK, type: 'boolean', label: 'Allow occupants to change their nickname', values: bool(c.allowNickChange) },
    { var: VOICEREQUESTS, type: 'boolean', label: 'Allow visitors to request voice', values: bool(c.voiceRequests) },
    { var: 'muc#roomconfig_allowpm', type: 'list-single', label: 'Allow private messages from', options: PM.map((v) => ({ label: v, value: v })), values: [c.allowPm] },
  ];
  if (archive) fields.push({ var: 'muc#roomconfig_enablearchiving', type: 'boolean', label: 'Archive messages (MAM)', values: bool(c.archiving) });
  return formElement('form', { title: 'Room configuration', formType: NS_ROOMCONFIG, fields });
}

function refused(why: string): StanzaError {
  return new StanzaError('not-acceptable', why);
}

function readBool(v: readonly string[], name: string): boolean {
  const s = v[0];
  if (s === '1' || s === 'true') return true;
  if (s === '0' || s === 'false') return false;
  throw refused(`${name} must be a boolean`);
}

function readText(v: readonly string[], name: string, maxBytes: number): string {
  const s = v.join('\n');
  if (Buffer.byteLength(s) > maxBytes) throw refused(`${name} is longer than ${maxBytes} bytes`);
  return s;
}

function readInt(v: readonly string[], name: string, max: number, noneMeans: number): number {
  const s = (v[0] ?? '').trim();
  if (s === 'none' || s === '') return noneMeans;
  if (!/^\d{1,9}$/.test(s)) throw refused(`${name} must be a number`);
  const n = Number(s);
  if (n > max) throw refused(`${name} must be at most ${max}`);
  return n;
}

function readChoice<T extends string>(v: readonly string[], name: string, choices: readonly T[]): T {
  const s = v[0];
  if (s !== undefined && (choices as readonly string[]).includes(s)) return s as T;
  throw refused(`${name} must be one of ${choices.join(', ')}`);
}

/** A submitted form applied to `current`: the new config, or not-acceptable/bad-request with nothing changed. */
export function readConfigForm(form: Element, current: RoomConfig, maxCap: number, maxHistory: number): RoomConfig {
  const sub = submittedForm(form, NS_ROOMCONFIG);
  const c: RoomConfig = { ...current };
  let protectedRoom: boolean | undefined;
  let secret: string | undefined;
  for (const [name, v] of sub) {
    const field = name.replace(/^muc#roomconfig_/, '');
    switch (name === CHANGENICK ? 'changenick' : name === VOICEREQUESTS ? 'voicerequests' : field) {
      case 'roomname': c.name = readText(v, name, FIELD_BYTES.name); break;
      case 'roomdesc': c.description = readText(v, name, FIELD_BYTES.description); break;
      case 'lang': c.language = readText(v, name, FIELD_BYTES.language); break;
      case 'persistentroom': c.persistent = readBool(v, name); break;
      case 'publicroom': c.public = readBool(v, name); break;
      case 'membersonly': c.membersOnly = readBool(v, name); break;
      case 'moderatedroom': c.moderated = readBool(v, name); break;
      case 'passwordprotectedroom': protectedRoom = readBool(v, name); break;
      case 'roomsecret': secret = readText(v, name, FIELD_BYTES.password); break;
      case 'whois': c.whois = readChoice(v, name, WHOIS); break;
      case 'maxusers': c.maxUsers = readInt(v, name, maxCap, maxCap) || maxCap; break;
      case 'historylength': c.historyLength = readInt(v, name, maxHistory, maxHistory); break;
      case 'allowinvites': c.allowInvites = readBool(v, name); break;
      case 'changesubject': c.changeSubject = readBool(v, name); break;
      case 'changenick': c.allowNickChange = readBool(v, name); break;
      case 'voicerequests': c.voiceRequests = readBool(v, name); break;
      case 'allowpm': c.allowPm = readChoice(v, name, PM); break;
      case 'enablearchiving': c.archiving = readBool(v, name); break;
      default: break; // unknown fields are ignored (Prosody does the same)
    }
  }
  // A secret alone protects the room when given (Prosody's form has only the secret);
  // passwordprotectedroom=0 clears it.
  if (secret !== undefined) c.password = secret;
  if (protectedRoom === false) c.password = '';
  if (protectedRoom === true && c.password === '') throw refused('a password-protected room needs a password (muc#roomconfig_roomsecret)');
  return c;
}
