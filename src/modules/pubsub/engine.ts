// The pubsub engine: nodes, their configuration, items, subscriptions (pending ones too) and
// affiliations, kept per service in a map store, with the limits that keep one service bounded
// (its bytes as a running count, ./service-bytes.ts). It knows nothing of PEP or of who may do
// what: the layer above (PEP, the pubsub component) checks access, then calls it; it hands every
// change to `notify` with the <event/> to send, and that layer picks the recipients. Each change
// of a node is one write of that node.
// References: XEP-0060 §6.1 (subscribe), §7 (publish, retract, purge), §8 (owner use cases), §12.8 (item ids).
import { randomBytes } from 'node:crypto';
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { fromJSON, toJSON } from '../../xml/json.js';
import { StanzaError } from '../../core/errors.js';
import type { MapStore } from '../../storage/store.js';
import { VolatileItems } from './volatile-items.js';
import type { SubOptions } from './sub-options.js';
import { defaultConfig, itemCap, meets, normaliseConfig, PEP_MODELS, type ConfigChanges, type ConfigModels, type NodeConfig } from './node-config.js';
import { nodeSize, ServiceBytes } from './service-bytes.js';
import {
  checkPending, DEFAULT_PENDING_LIMITS, deliverable, jidOf, pruneOptions, stateOf, tooMany, withOptions, withoutSubscription, type PendingLimits, type SubState,
} from './subscriptions.js';

import { pubsubError, publishEvent, type Affiliation, type Notify, type PubsubLimits, type StoredItem, type StoredNode } from './model.js';

export * from './model.js';

export class PubsubEngine {
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Items of nodes with persist_items off: memory only, bounded in bytes. */
  private readonly volatile: VolatileItems;
  /** Bytes each service keeps in the store, moved by every write below. */
  private readonly bytes: ServiceBytes;
  private readonly pendingLimits: PendingLimits;

  /** `models`: the access and publish models this service's node configuration forms accept. */
  constructor(private readonly store: MapStore<StoredNode>, readonly limits: PubsubLimits, private readonly notify: Notify, readonly models: ConfigModels = PEP_MODELS) {
    this.volatile = new VolatileItems(limits.serviceBytes);
    this.bytes = new ServiceBytes(store);
    this.pendingLimits = limits.pending ?? DEFAULT_PENDING_LIMITS;
  }

  /** Changes to one service, one at a time (two resources may publish at once). */
  private serial<T>(service: string, task: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(service) ?? Promise.resolve();
    const run = prev.then(task, task);
    const tail = run.catch(() => undefined);
    this.queues.set(service, tail);
    void tail.then(() => { if (this.queues.get(service) === tail) this.queues.delete(service); });
    return run;
  }

  /**
   * Write one node (undefined deletes it), `prev` being what the store holds now, keeping the
   * service's byte count. A write that grows the service past its limit is refused with
   * resource-constraint and stores nothing; one that shrinks it never is.
   */
  private async put(service: string, node: string, prev: StoredNode | undefined, next: StoredNode | undefined): Promise<void> {
    const delta = nodeSize(node, next) - nodeSize(node, prev);
    if (delta > 0 && (await this.bytes.total(service)) + delta > this.limits.serviceBytes) {
      throw new StanzaError('resource-constraint', `the stored items of one ${this.limits.scope ?? 'account'} are limited to ${this.limits.serviceBytes} bytes`);
    }
    await this.store.set(service, node, next);
    this.bytes.moved(service, delta);
  }

  /** Bytes the service keeps in the store, as the limit counts them (the running count). */
  storedBytes(service: string): Promise<number> {
    return this.serial(service, () => this.bytes.total(service));
  }

  /** The node's configuration, or undefined when it does not exist. */
  async config(service: string, node: string): Promise<NodeConfig | undefined> {
    const n = await this.store.get(service, node);
    return n ? normaliseConfig(n.config) : undefined;
  }

  /** Names of the service's nodes. */
  async nodes(service: string): Promise<string[]> {
    return Object.keys(await this.store.getAll(service));
  }

  /** Every node of the service with what decides who sees it (one read of the store). */
  async listing(service: string): Promise<{ node: string; config: NodeConfig; affiliations: Record<string, Affiliation>; subscribers: string[] }[]> {
    return Object.entries(await this.store.getAll(service)).map(([node, n]) => ({ node, config: normaliseConfig(n.config), affiliations: n.affiliations ?? {}, subscribers: n.subscribers ?? [] }));
  }

  /** Items of a node, newest first: all, those with `ids`, or the newest `max`. item-not-found when it does not exist. */
  async items(service: string, node: string, opts: { ids?: readonly string[]; max?: number } = {}): Promise<Element[]> {
    const n = await this.existing(service, node);
    let items = this.itemsOf(service, node, n);
    if (opts.ids) items = items.filter((i) => opts.ids!.includes(i.id));
    if (opts.max !== undefined) items = items.slice(0, opts.max);
    return items.map((i) => fromJSON(i.item));
  }

  /**
   * The last published item of a node as the children of a notification message: the `<event/>`
   * and, when its publish time is known, a `<delay/>` with it (XEP-0060 §6.1.7, XEP-0203).
   * Undefined when the node does not exist or has no item.
   */
  async lastItem(service: string, node: string, config: NodeConfig): Promise<Element[] | undefined> {
    const n = await this.store.get(service, node);
    const last = n ? this.itemsOf(service, node, n)[0] : undefined;
    if (!last) return undefined;
    const event = publishEvent(node, fromJSON(last.item), config);
    return last.published ? [event, x('delay', { xmlns: NS.DELAY, stamp: last.published })] : [event];
  }

  private itemsOf(service: string, node: string, n: StoredNode): StoredItem[] {
    return normaliseConfig(n.config).persist_items ? n.items : this.volatile.get(service, node);
  }

  /**
   * Create a node with `config` changes over the defaults, and `owner` (a bare JID) as its owner,
   * in one write: a crash leaves either no node or an owned one. conflict when it exists.
   */
  async create(service: string, node: string, changes: ConfigChanges = {}, owner?: string): Promise<void> {
    await this.serial(service, async () => {
      if (await this.store.get(service, node)) throw new StanzaError('conflict', 'the node exists');
      await this.checkNodeCount(service);
      const affiliations = owner ? Object.fromEntries(new Map<string, Affiliation>([[owner, 'owner']])) : undefined;
      await this.put(service, node, undefined, { config: { ...defaultConfig(), ...changes }, items: [], ...(affiliations ? { affiliations } : {}) });
    });
  }

  private async checkNodeCount(service: string): Promise<void> {
    if ((await this.nodes(service)).length >= this.limits.nodes) {
      throw new StanzaError('policy-violation', `at most ${this.limits.nodes} nodes per ${this.limits.scope ?? 'account'}`);
    }
  }

  /**
   * Publish `item` (an `<item/>`; an id is generated when it has none). A missing node is
   * created with `options`; on an existing one they are preconditions (conflict with
   * precondition-not-met). Resolves with the item id once it is stored, then notifies.
   */
  async publish(service: string, node: string, item: Element, publisher: string | undefined, options?: ConfigChanges): Promise<string> {
    const id = item.attrs.id || randomBytes(12).toString('base64url');
    const el = x('item', { id }, ...item.elements().slice(0, 1));
    if (item.elements().length > 1) throw new StanzaError('bad-request', 'an item carries one payload');
    if (Buffer.byteLength(el.toString()) > this.limits.itemBytes) {
      throw pubsubError('not-acceptable', 'payload-too-big', `items are limited to ${this.limits.itemBytes} bytes`);
    }
    const change = await this.serial(service, async () => {
      const prev = await this.store.get(service, node);
      if (prev && options && !meets(normaliseConfig(prev.config), options)) {
        throw pubsubError('conflict', 'precondition-not-met', 'the node configuration does not match the publish-options');
      }
      if (!prev) await this.checkNodeCount(service);
      const n: StoredNode = prev ?? { config: { ...defaultConfig(), ...(options ?? {}) }, items: [] };
      const config = normaliseConfig(n.config);
      const stored: StoredItem = { id, item: toJSON(el), ...(publisher ? { publisher } : {}), published: new Date().toISOString() };
      const others = this.itemsOf(service, node, n).filter((i) => i.id !== id);
      const items = [stored, ...others].slice(0, itemCap(config, this.limits.maxItems));
      if (config.persist_items) {
        await this.put(service, node, prev, { ...n, items });
      } else {
        this.volatile.set(service, node, items);
        await this.put(service, node, prev, { ...n, items: [] });
      }
      return { service, node, config, kind: 'publish' as const, item: el, id, event: publishEvent(node, el, config), subscribers: deliverable(n) };
    });
    await this.notify(change);
    return id;
  }

  /** Remove items by id; `notify` adds a retract notification (when the node's notify_retract allows). */
  async retract(service: string, node: string, ids: readonly string[], notify: boolean): Promise<void> {
    const change = await this.serial(service, async () => {
      const n = await this.existing(service, node);
      const config = normaliseConfig(n.config);
      const before = this.itemsOf(service, node, n);
      const items = before.filter((i) => !ids.includes(i.id));
      if (items.length === before.length) throw new StanzaError('item-not-found', 'no such item');
      if (config.persist_items) await this.put(service, node, n, { ...n, items });
      else this.volatile.set(service, node, items);
      const event = x('event', { xmlns: NS.PUBSUB_EVENT }, x('items', { node }, ...ids.map((id) => x('retract', { id }))));
      return { service, node, config, kind: 'retract' as const, event, id: ids[0], subscribers: deliverable(n) };
    });
    if (notify && change.config.notify_retract) await this.notify(change);
  }

  /** Remove every item of the node, notifying subscribers. */
  async purge(service: string, node: string): Promise<void> {
    const change = await this.serial(service, async () => {
      const n = await this.existing(service, node);
      this.volatile.delete(service, node);
      await this.put(service, node, n, { ...n, items: [] });
      const config = normaliseConfig(n.config);
      return { service, node, config, kind: 'purge' as const, event: x('event', { xmlns: NS.PUBSUB_EVENT }, x('purge', { node })), subscribers: deliverable(n) };
    });
    if (change.config.notify_retract) await this.notify(change);
  }

  /** Delete the node and its items, notifying subscribers (with the `redirect` URI when given, XEP-0060 §8.4.1). */
  async deleteNode(service: string, node: string, redirect?: string): Promise<void> {
    const change = await this.serial(service, async () => {
      const n = await this.existing(service, node);
      this.volatile.delete(service, node);
      await this.put(service, node, n, undefined);
      const config = normaliseConfig(n.config);
      return { service, node, config, kind: 'delete' as const, event: x('event', { xmlns: NS.PUBSUB_EVENT }, x('delete', { node }, redirect ? x('redirect', { uri: redirect }) : null)), subscribers: deliverable(n) };
    });
    if (change.config.notify_delete) await this.notify(change);
  }

  /** Apply configuration changes; items past a lower max_items are dropped. Notifies when notify_config is on. */
  async configure(service: string, node: string, changes: ConfigChanges): Promise<void> {
    const change = await this.serial(service, async () => {
      const n = await this.existing(service, node);
      const config = { ...normaliseConfig(n.config), ...changes };
      let items = this.itemsOf(service, node, n).slice(0, itemCap(config, this.limits.maxItems));
      if (config.persist_items) this.volatile.delete(service, node);
      else { this.volatile.set(service, node, items); items = []; }
      await this.put(service, node, n, { ...n, config, items });
      return { service, node, config, kind: 'config' as const, event: x('event', { xmlns: NS.PUBSUB_EVENT }, x('configuration', { node })), subscribers: deliverable(n) };
    });
    if (change.config.notify_config) await this.notify(change);
  }

  /**
   * Subscribe `jid` to the node, with `options` when given; item-not-found when it does not
   * exist. `as` 'pending' makes a new subscription a request for the owners to approve (§6.1.2):
   * bounded per node and per subscriber (policy-violation with too-many-subscriptions), and
   * asking again while one waits gets not-authorized with pending-subscription. An approved
   * subscriber stays subscribed. Resolves with the state reached.
   */
  async subscribe(service: string, node: string, jid: string, options?: SubOptions, as: SubState = 'subscribed'): Promise<SubState> {
    return this.serial(service, async () => {
      const all = await this.store.getAll(service);
      const n = Object.hasOwn(all, node) ? all[node] : undefined;
      if (!n) throw new StanzaError('item-not-found', 'no such node');
      const state = stateOf(n, jid);
      if (state === 'subscribed' || as === 'subscribed') {
        if (state === 'subscribed' && !options) return 'subscribed';
        const next = state === 'subscribed' ? n : this.approved(n, jid);
        await this.put(service, node, n, options ? withOptions(next, jid, options) : next);
        return 'subscribed';
      }
      if (state === 'pending') throw pubsubError('not-authorized', 'pending-subscription', 'your subscription request waits for an owner of the node');
      checkPending(all, node, jid, this.pendingLimits);
      const next = { ...n, pending: [...(n.pending ?? []), jid] };
      await this.put(service, node, n, options ? withOptions(next, jid, options) : next);
      return 'pending';
    });
  }

  /** `n` with `jid` subscribed (a pending request of it approved), within the subscriber limit. */
  private approved(n: StoredNode, jid: string): StoredNode {
    const subscribers = n.subscribers ?? [];
    if (subscribers.length >= this.limits.subscribers) {
      throw tooMany(`at most ${this.limits.subscribers} subscriptions per node`);
    }
    return { ...n, subscribers: [...subscribers, jid], pending: (n.pending ?? []).filter((j) => j !== jid) };
  }

  /**
   * An owner's answer to `jid`'s pending request (§8.6): `allow` subscribes it, otherwise the
   * request is dropped. False when there was no such request (nothing changes).
   */
  async decide(service: string, node: string, jid: string, allow: boolean): Promise<boolean> {
    return this.serial(service, async () => {
      const n = await this.existing(service, node);
      if (stateOf(n, jid) !== 'pending') return false;
      await this.put(service, node, n, allow ? this.approved(n, jid) : withoutSubscription(n, jid));
      return true;
    });
  }

  /** The pending requests of a node (JIDs, oldest first); item-not-found when it does not exist. */
  async pending(service: string, node: string): Promise<string[]> {
    return [...((await this.existing(service, node)).pending ?? [])];
  }

  /** The options of `jid`'s subscription (undefined: the defaults); unexpected-request with not-subscribed when it has none. */
  async subscriptionOptions(service: string, node: string, jid: string): Promise<SubOptions | undefined> {
    const n = await this.existing(service, node);
    if (!(n.subscribers ?? []).includes(jid)) throw pubsubError('unexpected-request', 'not-subscribed');
    return n.subOptions && Object.hasOwn(n.subOptions, jid) ? n.subOptions[jid] : undefined;
  }

  /** Store the options of `jid`'s subscription; unexpected-request with not-subscribed when it has none. */
  async setSubscriptionOptions(service: string, node: string, jid: string, options: SubOptions): Promise<void> {
    await this.serial(service, async () => {
      const n = await this.existing(service, node);
      if (!(n.subscribers ?? []).includes(jid)) throw pubsubError('unexpected-request', 'not-subscribed');
      await this.put(service, node, n, withOptions(n, jid, options));
    });
  }

  /** End `jid`'s subscription or withdraw its pending request; unexpected-request with not-subscribed when it has neither. */
  async unsubscribe(service: string, node: string, jid: string): Promise<void> {
    await this.serial(service, async () => {
      const n = await this.existing(service, node);
      if (!stateOf(n, jid)) throw pubsubError('unexpected-request', 'not-subscribed');
      await this.put(service, node, n, withoutSubscription(n, jid));
    });
  }

  /** The subscriptions (and pending requests) that `jids` hold on the service's nodes. */
  async subscriptionsOf(service: string, jids: readonly string[]): Promise<{ node: string; jid: string; subscription: SubState }[]> {
    const out: { node: string; jid: string; subscription: SubState }[] = [];
    for (const [node, n] of Object.entries(await this.store.getAll(service))) {
      for (const jid of jids) {
        const subscription = stateOf(n, jid);
        if (subscription) out.push({ node, jid, subscription });
      }
    }
    return out;
  }

  /** The approved subscribers of a node; item-not-found when it does not exist. */
  async subscribers(service: string, node: string): Promise<string[]> {
    return [...((await this.existing(service, node)).subscribers ?? [])];
  }

  /** The stored affiliations of a node (bare JID → affiliation); item-not-found when it does not exist. */
  async affiliations(service: string, node: string): Promise<Record<string, Affiliation>> {
    return { ...((await this.existing(service, node)).affiliations ?? {}) };
  }

  /** The affiliations `jid` holds on the service's nodes (node → affiliation). */
  async affiliationsOf(service: string, jid: string): Promise<Map<string, Affiliation>> {
    const out = new Map<string, Affiliation>();
    for (const [node, n] of Object.entries(await this.store.getAll(service))) {
      const a = n.affiliations && Object.hasOwn(n.affiliations, jid) ? n.affiliations[jid] : undefined;
      if (a) out.set(node, a);
    }
    return out;
  }

  /**
   * Set affiliations (bare JID → affiliation; 'none' removes one). An outcast loses its
   * subscriptions and pending requests; an owner or publisher has its pending requests approved
   * (XEP-0060 §8.8.2, §8.7 note). Bounded like subscriptions: policy-violation past the limit.
   * Resolves with the subscription changes made, for the layer above to announce.
   */
  async setAffiliations(service: string, node: string, changes: ReadonlyMap<string, Affiliation>): Promise<{ subscribed: string[]; removed: string[] }> {
    return this.serial(service, async () => {
      const n = await this.existing(service, node);
      // A Map, then Object.fromEntries: a JID may be '__proto__', which plain assignment would not store.
      const affiliations = new Map(Object.entries(n.affiliations ?? {}));
      let next: StoredNode = n;
      const subscribed: string[] = [];
      const removed: string[] = [];
      for (const [jid, a] of changes) {
        if (a === 'none') affiliations.delete(jid);
        else affiliations.set(jid, a);
        const held = [...(next.subscribers ?? []), ...(next.pending ?? [])].filter((s) => jidOf(s, jid));
        for (const s of held) {
          if (a === 'outcast') {
            next = withoutSubscription(next, s);
            removed.push(s);
          } else if ((a === 'owner' || a === 'publisher') && stateOf(next, s) === 'pending') {
            next = this.approved(next, s);
            subscribed.push(s);
          }
        }
      }
      if (affiliations.size > this.limits.subscribers) throw new StanzaError('policy-violation', `at most ${this.limits.subscribers} affiliations per node`);
      await this.put(service, node, n, pruneOptions({ ...next, affiliations: Object.fromEntries(affiliations) }));
      return { subscribed, removed };
    });
  }

  private async existing(service: string, node: string): Promise<StoredNode> {
    const n = await this.store.get(service, node);
    if (!n) throw new StanzaError('item-not-found', 'no such node');
    return n;
  }

  /** Forget every node of a service (its account was deleted). */
  async deleteService(service: string): Promise<void> {
    await this.serial(service, async () => {
      for (const node of await this.nodes(service)) this.volatile.delete(service, node);
      await this.store.setAll(service, undefined);
      this.bytes.forget(service);
    });
  }
}
