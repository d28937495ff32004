// Occupant identifiers (XEP-0421): stable for one real bare JID in one room, different across
// rooms, and revealing nothing of the real JID: an HMAC of both under a per-service salt that is
// generated once and stored (so ids survive restarts).
// References: XEP-0421 §4 (generation).
import { createHmac, randomBytes } from 'node:crypto';
import type { KeyValStore } from '../../storage/store.js';

export const NS_OCCUPANT_ID = 'urn:xmpp:occupant-id:0';

/** Load the service's salt, or make and store one. */
export async function loadSalt(store: KeyValStore<string>): Promise<string> {
  const have = await store.get('salt');
  if (have) return have;
  const salt = randomBytes(32).toString('base64');
  await store.set('salt', salt);
  return salt;
}

/** The occupant id of `bare` in `room`. */
export function occupantId(salt: string, room: string, bare: string): string {
  return createHmac('sha256', salt).update(room).update('\0').update(bare).digest('base64');
}
