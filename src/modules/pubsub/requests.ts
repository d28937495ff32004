// The pubsub protocol over the engine: reads `<pubsub/>` and `<pubsub xmlns='…#owner'/>`
// requests, calls the engine and builds the result payloads. Who may do what is decided by the
// caller (PEP: the account owner does everything, others read per the access model).
// References: XEP-0060 §6.5 (retrieve items), §7.1 (publish, publish-options), §7.2 (retract),
// §8.1 (create), §8.2 (configure), §8.3 (default options), §8.4 (delete), §8.5 (purge).
import { Element, x } from '../../xml/element.js';
import { withAncestorNamespaces } from '../../xml/ns-scope.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import { checkNodeName, pubsubError, type PubsubEngine } from './engine.js';
import { configForm, defaultConfig, readConfigForm, type ConfigChanges, type NodeConfig } from './node-config.js';
import { optionsFormIn, readSubOptions, subOptionsForm } from './sub-options.js';
import type { SubState } from './subscriptions.js';

/** Who is asking, as the layer above decided. */
export interface Requester {
  /** The requester's bare JID (for `publisher`). */
  jid: string;
  /** The full JID the request came from (a subscription may name it). */
  full: string;
  /** Owner of the service: may publish, retract, configure, purge, delete. */
  owner: boolean;
  /** Throws the access-model error when this requester may not read a node so configured. */
  mayRead(config: NodeConfig): Promise<void>;
  /**
   * May publish to `node` without being `owner` (publish_model 'open' or 'subscribers', XEP-0060
   * §7.1.3.1); absent: only the owner publishes.
   */
  mayPublish?(node: string, config: NodeConfig): Promise<boolean>;
  /**
   * What a subscribe by someone not `owner` becomes: 'subscribed', or 'pending' for the owners to
   * approve (access model 'authorize'); throws the access model's error when refused. Absent:
   * `mayRead` decides and subscriptions are never pending.
   */
  admit?(config: NodeConfig): Promise<SubState>;
  /** Told when a subscription request of `jid` to `node` starts to wait for approval. */
  onPending?(node: string, jid: string): void;
}

/** Most item ids one request may name. */
const MAX_IDS = 256;

function onlyOwner(who: Requester): void {
  if (!who.owner) throw new StanzaError('forbidden', 'only the owner may change this service');
}

/** The JID a subscribe or unsubscribe names: the requester's own, bare or full (XEP-0060 §6.1.3.1). */
function subscriberJid(el: Element, who: Requester): string {
  const jid = el.attrs.jid;
  if (jid !== who.jid && jid !== who.full) throw pubsubError('bad-request', 'invalid-jid', "subscribe with your own JID, bare or full");
  return jid;
}

/** The data form inside `parent` (<configure/>, <publish-options/>), if any, read under the engine's limits and models. */
export function formIn(parent: Element | undefined, formType: string, engine: PubsubEngine): ConfigChanges | undefined {
  const form = parent?.getChild('x', NS.DATA_FORMS);
  return form ? readConfigForm(form, formType, engine.limits.maxItems, engine.models) : undefined;
}

/**
 * An iq set with `<pubsub xmlns='…pubsub'/>`: publish, retract, create. `stanza` is the iq that
 * carries `pubsub`, `streamNs` its stream's default namespace: a published payload keeps the
 * namespace declarations made on them.
 */
export async function pubsubSet(engine: PubsubEngine, service: string, pubsub: Element, who: Requester, stanza: Element, streamNs: string = NS.CLIENT): Promise<Element | undefined> {
  const publish = pubsub.getChild('publish');
  if (publish) {
    const node = checkNodeName(publish.attrs.node);
    if (!who.owner) {
      const config = who.mayPublish ? await engine.config(service, node) : undefined;
      if (!config || !(await who.mayPublish!(node, config))) onlyOwner(who);
    }
    const items = publish.getChildren('item');
    if (items.length !== 1) throw pubsubError('bad-request', items.length ? 'invalid-payload' : 'item-required', 'publish one item at a time');
    const options = formIn(pubsub.getChild('publish-options'), NS.PUBSUB_PUBLISH_OPTIONS, engine);
    const item = items[0] as Element;
    const payloads = item.elements().map((p) => withAncestorNamespaces(p, [stanza, pubsub, publish, item], streamNs));
    const id = await engine.publish(service, node, new Element(item.name, item.attrs, payloads), who.jid, options);
    return x('pubsub', { xmlns: NS.PUBSUB }, x('publish', { node }, x('item', { id })));
  }
  const retract = pubsub.getChild('retract');
  if (retract) {
    onlyOwner(who);
    const node = checkNodeName(retract.attrs.node);
    const ids = retract.getChildren('item').map((i) => i.attrs.id).filter((id): id is string => !!id);
    if (ids.length === 0) throw pubsubError('bad-request', 'item-required');
    if (ids.length > MAX_IDS) throw new StanzaError('not-acceptable', `at most ${MAX_IDS} items at once`);
    await engine.retract(service, node, ids, retract.attrs.notify === 'true' || retract.attrs.notify === '1');
    return undefined;
  }
  const create = pubsub.getChild('create');
  if (create) {
    onlyOwner(who);
    const node = checkNodeName(create.attrs.node);
    await engine.create(service, node, formIn(pubsub.getChild('configure'), NS.PUBSUB_NODE_CONFIG, engine));
    return undefined;
  }
  const subscribe = pubsub.getChild('subscribe');
  if (subscribe) {
    const node = checkNodeName(subscribe.attrs.node);
    const jid = subscriberJid(subscribe, who);
    const config = await engine.config(service, node);
    if (!config) throw new StanzaError('item-not-found', 'no such node');
    let as: SubState = 'subscribed';
    if (!who.owner && who.admit) as = await who.admit(config);
    else if (!who.owner) await who.mayRead(config);
    // Subscribe and configure in one request (§6.3.6): the options are checked first.
    const form = optionsFormIn(pubsub.getChild('options'));
    const subscription = await engine.subscribe(service, node, jid, form ? readSubOptions(form, undefined) : undefined, as);
    if (subscription === 'pending') who.onPending?.(node, jid);
    return x('pubsub', { xmlns: NS.PUBSUB }, x('subscription', { node, jid, subscription }));
  }
  const unsubscribe = pubsub.getChild('unsubscribe');
  if (unsubscribe) {
    await engine.unsubscribe(service, checkNodeName(unsubscribe.attrs.node), subscriberJid(unsubscribe, who));
    return undefined;
  }
  const options = pubsub.getChild('options');
  if (options) {
    const node = checkNodeName(options.attrs.node);
    const jid = subscriberJid(options, who);
    const form = optionsFormIn(options);
    if (!form) throw pubsubError('bad-request', 'invalid-options', 'the options element carries the submitted form');
    await engine.setSubscriptionOptions(service, node, jid, readSubOptions(form, await engine.subscriptionOptions(service, node, jid)));
    return undefined;
  }
  throw new StanzaError('feature-not-implemented', 'unknown pubsub request');
}

/** An iq get with `<pubsub xmlns='…pubsub'/>`: items, and the (empty) lists of subscriptions and affiliations. */
export async function pubsubGet(engine: PubsubEngine, service: string, pubsub: Element, who: Requester): Promise<Element> {
  const items = pubsub.getChild('items');
  if (items) {
    const node = checkNodeName(items.attrs.node);
    const config = await engine.config(service, node);
    if (!config) throw new StanzaError('item-not-found', 'no such node');
    if (!who.owner) await who.mayRead(config);
    const ids = items.getChildren('item').map((i) => i.attrs.id).filter((id): id is string => !!id);
    if (ids.length > MAX_IDS) throw new StanzaError('not-acceptable', `at most ${MAX_IDS} items at once`);
    const maxAttr = items.attrs.max_items;
    const max = maxAttr === undefined ? undefined : /^\d{1,9}$/.test(maxAttr) ? Number(maxAttr) : NaN;
    if (Number.isNaN(max)) throw new StanzaError('bad-request', 'max_items must be a number');
    const found = await engine.items(service, node, { ...(ids.length ? { ids } : {}), ...(max !== undefined ? { max } : {}) });
    return x('pubsub', { xmlns: NS.PUBSUB }, x('items', { node }, ...found));
  }
  if (pubsub.getChild('subscriptions')) {
    const list = x('subscriptions');
    for (const sub of await engine.subscriptionsOf(service, [...new Set([who.jid, who.full])])) list.c('subscription', { ...sub });
    return x('pubsub', { xmlns: NS.PUBSUB }, list);
  }
  const options = pubsub.getChild('options');
  if (options) {
    const node = checkNodeName(options.attrs.node);
    const jid = subscriberJid(options, who);
    const form = subOptionsForm(await engine.subscriptionOptions(service, node, jid));
    return x('pubsub', { xmlns: NS.PUBSUB }, x('options', { node, jid }, form));
  }
  if (pubsub.getChild('affiliations')) {
    onlyOwner(who);
    const list = x('affiliations');
    for (const node of await engine.nodes(service)) list.c('affiliation', { node, affiliation: 'owner' });
    return x('pubsub', { xmlns: NS.PUBSUB }, list);
  }
  throw new StanzaError('feature-not-implemented', 'unknown pubsub request');
}

/** An iq get or set with `<pubsub xmlns='…pubsub#owner'/>`: configure, default, purge, delete. */
export async function ownerRequest(engine: PubsubEngine, service: string, type: 'get' | 'set', pubsub: Element, who: Requester): Promise<Element | undefined> {
  onlyOwner(who);
  const op = pubsub.elements()[0];
  const wrap = (el: Element): Element => x('pubsub', { xmlns: NS.PUBSUB_OWNER }, el);
  if (op?.local === 'default' && type === 'get') return wrap(x('default', null, configForm(defaultConfig(), 'form', engine.models)));
  const node = checkNodeName(op?.attrs.node);
  switch (`${type} ${op?.local}`) {
    case 'get configure': {
      const config = await engine.config(service, node);
      if (!config) throw new StanzaError('item-not-found', 'no such node');
      return wrap(x('configure', { node }, configForm(config, 'form', engine.models)));
    }
    case 'set configure': {
      const form = op!.getChild('x', NS.DATA_FORMS);
      if (!form) throw new StanzaError('bad-request', 'the configure element carries the submitted form');
      if (form.attrs.type === 'cancel') return undefined;
      await engine.configure(service, node, readConfigForm(form, NS.PUBSUB_NODE_CONFIG, engine.limits.maxItems, engine.models));
      return undefined;
    }
    case 'set purge':
      await engine.purge(service, node);
      return undefined;
    case 'set delete':
      await engine.deleteNode(service, node);
      return undefined;
    default:
      throw new StanzaError('feature-not-implemented', 'unknown pubsub#owner request');
  }
}
