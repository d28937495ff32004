// Who may do what on the pubsub component: a JID's affiliation with a node decides (XEP-0060
// §4.1 table), service admins hold 'owner' on every node, and node creation is for admins unless
// `restrict_node_creation` is off. Nodes of the service have no rosters: access models
// 'presence' and 'roster' admit affiliated JIDs only, as 'whitelist' does. On an 'authorize'
// node anyone not banned may ask to subscribe (the owners approve), and only subscribers and
// affiliated JIDs read. publish_model says who besides owners and publishers may publish.
// References: XEP-0060 §4.1 (affiliations), §4.5 (access models), §6.1.3 and §6.5.9 (errors),
// §7.1.3.1 (publish: forbidden), §8.1.1 (create: forbidden), §16.4.4 (pubsub#publish_model).
import { StanzaError } from '../../core/errors.js';
import { pubsubError, type Affiliation } from '../pubsub/engine.js';
import type { NodeConfig } from '../pubsub/node-config.js';
import type { SubState } from '../pubsub/subscriptions.js';

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

/** Throws the access model's error unless a JID so affiliated (and `subscribed`, or not) may read items. */
export function checkRead(a: Affiliation, config: NodeConfig, subscribed: boolean): void {
  if (a === 'outcast') throw new StanzaError('forbidden', 'you are banned from this node');
  if (mayRead(a, config, subscribed)) return;
  if (config.access_model === 'authorize') throw pubsubError('not-authorized', 'not-subscribed', 'this node is for its approved subscribers');
  throw pubsubError('not-allowed', 'closed-node', 'this node is for its members only');
}

/** True when a JID so affiliated (and `subscribed`, or not) may read the node's items. */
export function mayRead(a: Affiliation, config: NodeConfig, subscribed: boolean): boolean {
  if (a === 'outcast') return false;
  if (a !== 'none' || config.access_model === 'open') return true;
  return config.access_model === 'authorize' && subscribed;
}

/**
 * True when the node is shown to a JID so affiliated (disco#info, disco#items): it may read it,
 * or may ask to subscribe ('authorize'). Others are told it does not exist.
 */
export function mayDiscover(a: Affiliation, config: NodeConfig, subscribed: boolean): boolean {
  return mayRead(a, config, subscribed) || (a !== 'outcast' && config.access_model === 'authorize');
}

/**
 * What a JID so affiliated gets when it subscribes: 'subscribed', or 'pending' on an
 * 'authorize' node it is not affiliated with; throws the access model's error when refused.
 */
export function admission(a: Affiliation, config: NodeConfig): SubState {
  if (a === 'none' && config.access_model === 'authorize') return 'pending';
  checkRead(a, config, false);
  return 'subscribed';
}

/** May publish by the node's publish_model without being an owner or publisher: anyone not banned ('open'), or a subscriber ('subscribers'). */
export function publishModelAllows(a: Affiliation, config: NodeConfig, subscribed: boolean): boolean {
  if (a === 'outcast') return false;
  return config.publish_model === 'open' || (config.publish_model === 'subscribers' && subscribed);
}

const AFFILIATIONS: readonly Affiliation[] = ['owner', 'publisher', 'member', 'none', 'outcast'];

/** An affiliation named in a request; bad-request for anything else. */
export function parseAffiliation(s: string | undefined): Affiliation {
  if (s !== undefined && (AFFILIATIONS as readonly string[]).includes(s)) return s as Affiliation;
  throw new StanzaError('bad-request', `affiliation must be one of ${AFFILIATIONS.join(', ')}`);
}
