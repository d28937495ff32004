// The subscriptions a stored node holds: approved subscribers, pending requests (access model
// 'authorize', XEP-0060 §6.1.2) and subscription options, as pure functions over a StoredNode.
// Pending requests are bounded per node and per subscriber (its bare JID, across the service),
// in count and in bytes, since anyone may ask.
// References: XEP-0060 §4.2 (subscription states), §6.1.3.x (too-many-subscriptions, pending-subscription), §6.3.
import type { StanzaError } from '../../core/errors.js';
import type { SubOptions } from './sub-options.js';
import { pubsubError, type StoredNode } from './model.js';

/** Bounds on pending subscription requests. */
export interface PendingLimits {
  /** Pending requests one node holds. */
  perNode: number;
  /** Characters of the JIDs pending on one node. */
  nodeChars: number;
  /** Pending requests of one subscriber (bare JID) over the service's nodes. */
  perSubscriber: number;
  /** Characters of one subscriber's pending requests (JID and node name each) over the service. */
  subscriberChars: number;
}

/** Defaults: docs/limits.md lists them. */
export const DEFAULT_PENDING_LIMITS: PendingLimits = { perNode: 256, nodeChars: 64 * 1024, perSubscriber: 16, subscriberChars: 16 * 1024 };

/** A subscription state as XEP-0060 names it. */
export type SubState = 'subscribed' | 'pending';

/** The bare JID of a JID string (local and domain never hold '/'). */
export function bareOf(jid: string): string {
  const slash = jid.indexOf('/');
  return slash < 0 ? jid : jid.slice(0, slash);
}

/** True when `jid` is `bare` or one of its full JIDs. */
export function jidOf(jid: string, bare: string): boolean {
  return jid === bare || jid.startsWith(`${bare}/`);
}

/** `jid`'s state on the node, if it has one. */
export function stateOf(n: StoredNode, jid: string): SubState | undefined {
  if ((n.subscribers ?? []).includes(jid)) return 'subscribed';
  return (n.pending ?? []).includes(jid) ? 'pending' : undefined;
}

/** policy-violation with too-many-subscriptions (XEP-0060 §6.1.3.9). */
export function tooMany(why: string): StanzaError {
  return pubsubError('policy-violation', 'too-many-subscriptions', why);
}

/**
 * Throws unless one more pending request of `jid` on `node` fits: `all` is every node of the
 * service as stored (the per-subscriber bound counts across them).
 */
export function checkPending(all: Readonly<Record<string, StoredNode>>, node: string, jid: string, limits: PendingLimits): void {
  const here = all[node]?.pending ?? [];
  if (here.length + 1 > limits.perNode) throw tooMany(`at most ${limits.perNode} pending subscription requests per node`);
  if (here.reduce((s, j) => s + j.length, jid.length) > limits.nodeChars) throw tooMany(`pending subscription requests of one node are limited to ${limits.nodeChars} characters`);
  const bare = bareOf(jid);
  let count = 1;
  let chars = jid.length + node.length;
  for (const [name, n] of Object.entries(all)) {
    for (const j of n.pending ?? []) {
      if (bareOf(j) !== bare) continue;
      count += 1;
      chars += j.length + name.length;
    }
  }
  if (count > limits.perSubscriber) throw tooMany(`at most ${limits.perSubscriber} pending subscription requests per subscriber`);
  if (chars > limits.subscriberChars) throw tooMany(`pending subscription requests of one subscriber are limited to ${limits.subscriberChars} characters`);
}

/** The subscribers to notify: those whose options do not turn delivery off (§6.3). Pending requests never are. */
export function deliverable(n: StoredNode): string[] {
  const opts = n.subOptions;
  return (n.subscribers ?? []).filter((j) => !(opts && Object.hasOwn(opts, j) && opts[j]?.deliver === false));
}

/** `n` with `jid`'s options set (a Map first: a JID may be '__proto__'). */
export function withOptions(n: StoredNode, jid: string, options: SubOptions): StoredNode {
  return { ...n, subOptions: Object.fromEntries(new Map([...Object.entries(n.subOptions ?? {}), [jid, options]])) };
}

/** `n` keeping options only for its current subscribers and pending requests. */
export function pruneOptions(n: StoredNode): StoredNode {
  if (!n.subOptions) return n;
  const subs = new Set([...(n.subscribers ?? []), ...(n.pending ?? [])]);
  return { ...n, subOptions: Object.fromEntries(Object.entries(n.subOptions).filter(([j]) => subs.has(j))) };
}

/** `n` without `jid`'s subscription or pending request. */
export function withoutSubscription(n: StoredNode, jid: string): StoredNode {
  return pruneOptions({ ...n, subscribers: (n.subscribers ?? []).filter((j) => j !== jid), pending: (n.pending ?? []).filter((j) => j !== jid) });
}
