// Who may read a user's PEP node: the node's access model against the requester's roster item.
// References: XEP-0060 §4.5 (access models), §6.5.9 (errors), XEP-0163 §4.3 (PEP defaults).
import type { Jid } from '../../jid/jid.js';
import { StanzaError } from '../../core/errors.js';
import type { RosterStore } from '../roster/roster-store.js';
import { seesUser } from '../roster/roster-store.js';
import type { NodeConfig } from '../pubsub/node-config.js';
import { pubsubError } from '../pubsub/engine.js';

/** Throws the access model's error unless `who` (a bare JID) may read `user`'s node so configured. */
export async function checkRead(rosters: RosterStore | undefined, host: string, user: string, who: Jid, config: NodeConfig): Promise<void> {
  if (who.local === user && who.domain === host) return;
  const model = config.access_model;
  if (model === 'open') return;
  if (model === 'whitelist') throw pubsubError('not-allowed', 'closed-node', 'only the owner may read this node');
  const item = rosters ? (await rosters.load(user)).items[who.bare().toString()] : undefined;
  if (model === 'presence') {
    if (seesUser(item)) return;
    throw pubsubError('not-authorized', 'presence-subscription-required', 'this node is for contacts with a presence subscription');
  }
  if (item && item.groups.some((g) => config.roster_groups_allowed.includes(g))) return;
  throw pubsubError('not-authorized', 'not-in-roster-group', 'this node is for some roster groups only');
}

/** True when `who` may read; for filtering notifications. */
export async function mayRead(rosters: RosterStore | undefined, host: string, user: string, who: Jid, config: NodeConfig): Promise<boolean> {
  try {
    await checkRead(rosters, host, user, who, config);
    return true;
  } catch (err) {
    if (err instanceof StanzaError) return false;
    throw err;
  }
}
