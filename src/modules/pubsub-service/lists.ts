// The affiliation and subscription lists of the pubsub component: the user's own view (§5.7) and
// the owner's view and changes of one node (§8.8, §8.9), pending requests included (§6.1.2).
// Changes resolve with the subscriptions they changed, for the module to tell those subscribers.
// References: XEP-0060 §5.7 (retrieve affiliations), §8.8 (manage subscriptions), §8.9 (manage affiliations).
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { tryParseJid } from '../../jid/jid.js';
import { StanzaError } from '../../core/errors.js';
import type { Affiliation, PubsubEngine } from '../pubsub/engine.js';
import { parseAffiliation } from './access.js';

/** Most affiliations one request may change. */
const MAX_CHANGES = 256;

/** `<affiliations/>` of `jid` over every node (pubsub namespace), optionally of one node. */
export async function userAffiliations(engine: PubsubEngine, service: string, jid: string, node: string | undefined): Promise<Element> {
  const list = x('affiliations', node ? { node } : {});
  for (const [n, a] of await engine.affiliationsOf(service, jid)) {
    if (node === undefined || n === node) list.c('affiliation', { node: n, affiliation: a });
  }
  return x('pubsub', { xmlns: NS.PUBSUB }, list);
}

/** Subscriptions an owner's change made: subscribed (added or approved) and ended (or denied). */
export interface SubChanges { subscribed: string[]; removed: string[] }

/** The owner's list of a node's subscriptions, then its pending requests (subscription='pending'). */
export async function ownerSubscriptions(engine: PubsubEngine, service: string, node: string): Promise<Element> {
  const list = x('subscriptions', { node });
  for (const jid of await engine.subscribers(service, node)) list.c('subscription', { jid, subscription: 'subscribed' });
  for (const jid of await engine.pending(service, node)) list.c('subscription', { jid, subscription: 'pending' });
  return x('pubsub', { xmlns: NS.PUBSUB_OWNER }, list);
}

/** The owner's list of a node's affiliations. */
export async function ownerAffiliations(engine: PubsubEngine, service: string, node: string): Promise<Element> {
  const list = x('affiliations', { node });
  for (const [jid, a] of Object.entries(await engine.affiliations(service, node))) list.c('affiliation', { jid, affiliation: a });
  return x('pubsub', { xmlns: NS.PUBSUB_OWNER }, list);
}

/**
 * Apply the owner's `<affiliations/>` changes; an owner cannot remove the last owner (§8.9.2.4).
 * Outcasts lose their subscriptions, new owners and publishers have theirs approved.
 */
export async function setAffiliations(engine: PubsubEngine, service: string, node: string, el: Element, self: string): Promise<SubChanges> {
  const changes = new Map<string, Affiliation>();
  const items = el.getChildren('affiliation');
  if (items.length > MAX_CHANGES) throw new StanzaError('not-acceptable', `at most ${MAX_CHANGES} affiliations at once`);
  for (const item of items) {
    const jid = tryParseJid(item.attrs.jid ?? '');
    if (!jid) throw new StanzaError('jid-malformed', 'each affiliation names a JID');
    changes.set(jid.bare().toString(), parseAffiliation(item.attrs.affiliation));
  }
  const after = new Map(Object.entries(await engine.affiliations(service, node)));
  for (const [jid, a] of changes) after.set(jid, a);
  if ((after.get(self) ?? 'owner') !== 'owner' && ![...after.values()].includes('owner')) {
    throw new StanzaError('not-acceptable', 'a node keeps at least one owner');
  }
  return engine.setAffiliations(service, node, changes);
}

/**
 * Apply the owner's `<subscriptions/>` changes (§8.8.2): 'subscribed' adds a subscription or
 * approves a pending request, 'none' ends one or denies a request.
 */
export async function setSubscriptions(engine: PubsubEngine, service: string, node: string, el: Element): Promise<SubChanges> {
  const items = el.getChildren('subscription');
  if (items.length > MAX_CHANGES) throw new StanzaError('not-acceptable', `at most ${MAX_CHANGES} subscriptions at once`);
  const changes = items.map((item) => {
    const jid = tryParseJid(item.attrs.jid ?? '');
    const state = item.attrs.subscription;
    if (!jid) throw new StanzaError('jid-malformed', 'each subscription names a JID');
    if (state !== 'subscribed' && state !== 'none') throw new StanzaError('bad-request', "subscription must be 'subscribed' or 'none'");
    return [jid.toString(), state] as const;
  });
  const current = new Set(await engine.subscribers(service, node));
  const held = new Set([...current, ...(await engine.pending(service, node))]);
  const done: SubChanges = { subscribed: [], removed: [] };
  for (const [jid, state] of changes) {
    if (state === 'subscribed' && !current.has(jid)) {
      await engine.subscribe(service, node, jid);
      done.subscribed.push(jid);
    } else if (state === 'none' && held.has(jid)) {
      await engine.unsubscribe(service, node, jid);
      done.removed.push(jid);
    }
  }
  return done;
}
