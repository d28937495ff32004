// Who may do what on the pubsub component: a JID's affiliation with a node decides (XEP-0060
// §4.1 table), service admins hold 'owner' on every node, and node creation is for admins unless
// `restrict_node_creation` is off. Nodes of the service have no rosters: access models
// 'presence' and 'roster' admit affiliated JIDs only, as 'whitelist' does.
// References: XEP-0060 §4.1 (affiliations), §4.5 (access models), §8.1.1 (create: forbidden).
import { StanzaError } from '../../core/errors.js';
import { pubsubError, type Affiliation } from '../pubsub/engine.js';
import type { NodeConfig } from '../pubsub/node-config.js';

/** The service's policy: who is an admin, and whether creating nodes is for admins only. */
export interface ServicePolicy {
  admins: ReadonlySet<string>;
  restrictCreation: boolean;
}

/** `jid`'s affiliation (bare) among a node's stored ones; admins are owners everywhere. */
export function affiliationOf(policy: ServicePolicy, stored: Readonly<Record<string, Affiliation>>, jid: string): Affiliation {
  if (policy.admins.has(jid)) return 'owner';
  return Object.hasOwn(stored, jid) ? stored[jid] as Affiliation : 'none';
}

/** May publish and retract (publish_model 'publishers'). */
export const mayPublish = (a: Affiliation): boolean => a === 'owner' || a === 'publisher';

/** Throws forbidden unless `jid` may create nodes. */
export function checkCreate(policy: ServicePolicy, jid: string): void {
  if (policy.restrictCreation && !policy.admins.has(jid)) throw new StanzaError('forbidden', 'only the service admins may create nodes');
}

/** Throws the access model's error unless a JID so affiliated may subscribe and read items. */
export function checkRead(a: Affiliation, config: NodeConfig): void {
  if (a === 'outcast') throw new StanzaError('forbidden', 'you are banned from this node');
  if (mayRead(a, config)) return;
  throw pubsubError('not-allowed', 'closed-node', 'this node is for its members only');
}

/** True when a JID so affiliated may read the node (for listing nodes in disco#items). */
export function mayRead(a: Affiliation, config: NodeConfig): boolean {
  return a !== 'outcast' && (a !== 'none' || config.access_model === 'open');
}

const AFFILIATIONS: readonly Affiliation[] = ['owner', 'publisher', 'member', 'none', 'outcast'];

/** An affiliation named in a request; bad-request for anything else. */
export function parseAffiliation(s: string | undefined): Affiliation {
  if (s !== undefined && (AFFILIATIONS as readonly string[]).includes(s)) return s as Affiliation;
  throw new StanzaError('bad-request', `affiliation must be one of ${AFFILIATIONS.join(', ')}`);
}
