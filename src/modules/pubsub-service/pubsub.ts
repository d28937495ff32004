// The pubsub service component (Component "pubsub.example" "pubsub"), as Prosody's mod_pubsub:
// nodes on the component's domain, on the same engine as PEP (../pubsub/). Node creation is for
// the service admins (`admins` and `pubsub_admins`) unless `restrict_node_creation` is off; the
// creator owns the node; owners configure, purge, delete and set affiliations; owners and
// publishers publish and retract, and so do subscribers or anyone when the node's publish_model
// says so; subscribers get headline notifications from the domain. On an 'authorize' node a
// subscription waits for an owner's approval: the owners get a form (XEP-0060 §8.6), and the
// subscriber hears the outcome. Nodes a JID may neither read nor ask to join are, to it, absent.
// References: XEP-0060 (publish-subscribe), XEP-0030 (disco of the service and its nodes).
import { randomUUID } from 'node:crypto';
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { tryParseJid, type Jid } from '../../jid/jid.js';
import { defineModule } from '../../core/modules.js';
import { StanzaError } from '../../core/errors.js';
import { streamNamespace } from '../../core/session.js';
import type { StanzaEvent } from '../../core/events-map.js';
import { formElement } from '../adhoc/dataforms.js';
import { checkNodeName, PubsubEngine, type Affiliation, type Change, type StoredNode } from '../pubsub/engine.js';
import { formIn, ownerRequest, pubsubGet, pubsubSet, type Requester } from '../pubsub/requests.js';
import { configForm, defaultConfig, SERVICE_MODELS, type NodeConfig } from '../pubsub/node-config.js';
import { admission, affiliationOf, checkCreate, checkRead, mayDiscover, mayPublish, publishModelAllows, type ServicePolicy } from './access.js';
import { ownerAffiliations, ownerSubscriptions, setAffiliations, setSubscriptions, userAffiliations, type SubChanges } from './lists.js';
import { authorizationMessage, readDecision, subscriptionChange } from './authorize.js';

/** What the service offers in its disco#info. Only what is implemented (no get-pending ad-hoc command). */
export const SERVICE_FEATURES = [
  'access-authorize', 'access-open', 'access-whitelist', 'config-node', 'create-and-configure', 'create-nodes', 'delete-items',
  'delete-nodes', 'instant-nodes', 'item-ids', 'manage-affiliations', 'manage-subscriptions', 'meta-data', 'modify-affiliations',
  'outcast-affiliation', 'member-affiliation', 'publisher-affiliation', 'persistent-items', 'publish', 'purge-nodes',
  'retract-items', 'retrieve-affiliations', 'retrieve-default', 'retrieve-items', 'retrieve-subscriptions', 'subscribe',
  'subscription-notifications', 'subscription-options',
].map((f) => `${NS.PUBSUB}#${f}`);

/** What a node of the service starts with (Prosody's util.pubsub defaults: open, 20 items, no last item). */
function serviceDefaults(maxItems: number): NodeConfig {
  return { ...defaultConfig(), access_model: 'open', max_items: Math.min(20, maxItems), send_last_published_item: 'never' };
}

/** The node's meta-data in its disco#info (XEP-0060 §5.4), the fields Prosody shows. */
function metaData(config: NodeConfig): Element {
  return formElement('result', {
    formType: `${NS.PUBSUB}#meta-data`,
    fields: [
      { var: 'pubsub#title', values: config.title ? [config.title] : [] },
      { var: 'pubsub#description', values: config.description ? [config.description] : [] },
      { var: 'pubsub#type', values: config.type ? [config.type] : [] },
      { var: 'pubsub#access_model', values: [config.access_model] },
      { var: 'pubsub#publish_model', values: [config.publish_model] },
    ],
  });
}

/** Bare JIDs of a JID list option; entries that are not JIDs are skipped with a warning. */
function bareJids(list: readonly string[], warn: (text: string) => void): string[] {
  return list.flatMap((s) => {
    const j = tryParseJid(s);
    if (!j) warn(s);
    return j ? [j.bare().toString()] : [];
  });
}

/** True when `subscribers` holds the bare JID or the full JID. */
const holds = (subscribers: readonly string[], bare: string, full: string): boolean => subscribers.includes(bare) || subscribers.includes(full);

export default defineModule({
  name: 'pubsub',
  setup(ctx) {
    const service = ctx.host.name;
    const limits = {
      maxItems: ctx.option.number('pubsub_max_items', 256, { min: 1, max: 10000 }),
      itemBytes: ctx.option.number('pubsub_max_item_bytes', 256 * 1024, { min: 1024, max: 16 * 1024 * 1024 }),
      nodes: ctx.option.number('pubsub_max_nodes', 1000, { min: 1, max: 100000 }),
      serviceBytes: ctx.option.number('pubsub_max_bytes', 64 * 1024 * 1024, { min: 64 * 1024, max: 1024 * 1024 * 1024 }),
      subscribers: ctx.option.number('pubsub_max_subscriptions', 1000, { min: 1, max: 100000 }),
      scope: 'service' as const,
    };
    const warn = (s: string): void => ctx.log.warn({ jid: s }, 'not a JID in admins/pubsub_admins; ignored');
    const policy: ServicePolicy = {
      admins: new Set(bareJids([...ctx.option.list('admins', []), ...ctx.option.list('pubsub_admins', [])], warn)),
      restrictCreation: ctx.option.boolean('restrict_node_creation', true),
    };

    const title = ctx.option.string('name', 'Clove PubSub Service');

    const deliver = async (change: Change): Promise<void> => {
      if (!change.config.deliver_notifications) return;
      await Promise.all(change.subscribers.map((to) => ctx.send(x('message', { type: 'headline', from: service, to, id: randomUUID() }, change.event))));
    };
    const engine = new PubsubEngine(ctx.store<StoredNode>('pubsub', 'map'), limits, deliver, SERVICE_MODELS);
    const logged = (what: string) => (err: unknown): void => ctx.log.warn({ err }, what);

    const affiliation = async (node: string, jid: string): Promise<Affiliation> => affiliationOf(policy, await engine.affiliations(service, node), jid);
    const subscribed = async (node: string, from: Jid): Promise<boolean> => holds(await engine.subscribers(service, node), from.bare().toString(), from.toString());

    /** The last item to a new subscriber, when the node says so (XEP-0060 §6.1.7). */
    const sendLast = async (node: string, to: string): Promise<void> => {
      const config = await engine.config(service, node);
      if (!config || config.send_last_published_item === 'never' || !config.deliver_notifications) return;
      const last = await engine.lastItem(service, node, config);
      if (last) await ctx.send(x('message', { type: 'headline', from: service, to, id: randomUUID() }, ...last));
    };

    /** Tell each JID whose subscription an owner changed its new state (XEP-0060 §8.6, §8.8.2). */
    const tell = async (node: string, changes: SubChanges): Promise<void> => {
      for (const jid of changes.subscribed) {
        await ctx.send(subscriptionChange(service, jid, randomUUID(), node, 'subscribed'));
        await sendLast(node, jid);
      }
      for (const jid of changes.removed) await ctx.send(subscriptionChange(service, jid, randomUUID(), node, 'none'));
    };

    /** A new pending request goes to the node's owners (the admins when it has none). */
    const askOwners = async (node: string, subscriber: string): Promise<void> => {
      const owners = Object.entries(await engine.affiliations(service, node)).filter(([, a]) => a === 'owner').map(([j]) => j);
      for (const owner of owners.length ? owners : [...policy.admins]) await ctx.send(authorizationMessage(service, owner, randomUUID(), node, subscriber));
    };

    /** The requester for the shared request code: `owner` when the node lets this JID publish by affiliation. */
    const requester = async (from: Jid, node: string | undefined): Promise<Requester> => {
      const jid = from.bare().toString();
      const aff = node ? await affiliation(checkNodeName(node), jid) : 'none';
      const isSubscribed = async (): Promise<boolean> => (node ? subscribed(node, from) : false);
      return {
        jid, full: from.toString(), owner: mayPublish(aff),
        mayRead: async (config) => checkRead(aff, config, await isSubscribed()),
        mayPublish: async (_node, config) => publishModelAllows(aff, config, await isSubscribed()),
        admit: async (config) => admission(aff, config),
        onPending: (n, subscriber) => { askOwners(n, subscriber).catch(logged('asking the owners to approve a subscription failed')); },
      };
    };
    const sender = (ev: StanzaEvent): Jid => ev.from as Jid;
    const pubsubOf = (ev: StanzaEvent, ns: string): Element => ev.stanza.getChild('pubsub', ns) as Element;

    const create = async (from: Jid, req: Element): Promise<Element | undefined> => {
      const jid = from.bare().toString();
      checkCreate(policy, jid);
      const name = req.getChild('create')?.attrs.node;
      const instant = name === undefined || name === '';
      const node = instant ? randomUUID() : checkNodeName(name);
      const changes = formIn(req.getChild('configure'), NS.PUBSUB_NODE_CONFIG, engine) ?? {};
      // The node and its owner in one write: a crash cannot leave a node only admins own.
      await engine.create(service, node, { ...serviceDefaults(limits.maxItems), ...changes }, jid);
      return instant ? x('pubsub', { xmlns: NS.PUBSUB }, x('create', { node })) : undefined;
    };

    ctx.iq('set', 'host', NS.PUBSUB, 'pubsub', async (ev) => {
      const req = pubsubOf(ev, NS.PUBSUB);
      if (req.getChild('create')) return create(sender(ev), req);
      const op = req.getChild('publish') ?? req.getChild('retract') ?? req.getChild('subscribe') ?? req.getChild('unsubscribe');
      const result = await pubsubSet(engine, service, req, await requester(sender(ev), op?.attrs.node), ev.stanza, streamNamespace(ev.origin));
      const sub = result?.getChild('subscription');
      if (op?.local === 'subscribe' && sub?.attrs.node && sub.attrs.jid && sub.attrs.subscription === 'subscribed') {
        sendLast(sub.attrs.node, sub.attrs.jid).catch(logged('sending the last pubsub item failed'));
      }
      return result;
    });
    ctx.iq('get', 'host', NS.PUBSUB, 'pubsub', async (ev) => {
      const req = pubsubOf(ev, NS.PUBSUB);
      const affs = req.getChild('affiliations');
      if (affs) return userAffiliations(engine, service, sender(ev).bare().toString(), affs.attrs.node);
      return pubsubGet(engine, service, req, await requester(sender(ev), req.getChild('items')?.attrs.node));
    });
    for (const type of ['get', 'set'] as const) {
      ctx.iq(type, 'host', NS.PUBSUB_OWNER, 'pubsub', async (ev) => {
        const req = pubsubOf(ev, NS.PUBSUB_OWNER);
        const op = req.elements()[0];
        if (op?.local === 'default' && type === 'get') return x('pubsub', { xmlns: NS.PUBSUB_OWNER }, x('default', null, configForm(serviceDefaults(limits.maxItems), 'form', SERVICE_MODELS)));
        const node = checkNodeName(op?.attrs.node);
        const jid = sender(ev).bare().toString();
        if ((await affiliation(node, jid)) !== 'owner') throw new StanzaError('forbidden', 'only an owner of the node may do this');
        switch (`${type} ${op?.local}`) {
          case 'get subscriptions': return ownerSubscriptions(engine, service, node);
          case 'get affiliations': return ownerAffiliations(engine, service, node);
          case 'set affiliations': return void (await tell(node, await setAffiliations(engine, service, node, op as Element, jid)));
          case 'set delete': {
            const uri = op?.getChild('redirect')?.attrs.uri;
            if (uri !== undefined && (uri === '' || uri.length > 1024)) throw new StanzaError('bad-request', 'a redirect names a URI of at most 1024 characters');
            await engine.deleteNode(service, node, uri);
            return undefined;
          }
          case 'set subscriptions': return void (await tell(node, await setSubscriptions(engine, service, node, op as Element)));
          default: return ownerRequest(engine, service, type, req, { jid, full: sender(ev).toString(), owner: true, mayRead: async () => undefined });
        }
      });
    }

    // An owner's answer to an approval request (XEP-0060 §8.6); a cancelled form leaves it pending.
    ctx.hook('message/host', async (ev) => {
      // An error bounced back carries our own form: not an answer.
      if (ev.stanza.attrs.type === 'error') return undefined;
      const decision = readDecision(ev.stanza);
      if (decision === undefined) return undefined;
      if (decision === 'cancel') return true;
      const node = checkNodeName(decision.node);
      if ((await affiliation(node, sender(ev).bare().toString())) !== 'owner') throw new StanzaError('forbidden', 'only an owner of the node may approve subscriptions');
      // Another owner may have answered first: then nothing is pending and nothing changes.
      if (await engine.decide(service, node, decision.subscriber, decision.allow)) {
        await tell(node, decision.allow ? { subscribed: [decision.subscriber], removed: [] } : { subscribed: [], removed: [decision.subscriber] });
      }
      return true;
    });

    /** A node as `from` may see it: item-not-found when it does not exist or is not for `from` (as if absent). */
    const visible = async (node: string, from: Jid): Promise<{ config: NodeConfig; aff: Affiliation; isSubscribed: boolean }> => {
      const config = await engine.config(service, node);
      if (!config) throw new StanzaError('item-not-found', 'no such node');
      const aff = await affiliation(node, from.bare().toString());
      const isSubscribed = await subscribed(node, from);
      if (!mayDiscover(aff, config, isSubscribed)) throw new StanzaError('item-not-found', 'no such node');
      return { config, aff, isSubscribed };
    };

    // The service answers disco itself: a component has no `disco` module (that one is a server's).
    ctx.iq('get', 'host', NS.DISCO_INFO, 'query', async (ev) => {
      const node = ev.stanza.getChild('query')?.attrs.node;
      if (node !== undefined) {
        const { config } = await visible(node, sender(ev));
        return x('query', { xmlns: NS.DISCO_INFO, node },
          x('identity', { category: 'pubsub', type: 'leaf', ...(config.title ? { name: config.title } : {}) }),
          x('feature', { var: NS.PUBSUB }), metaData(config));
      }
      const q = x('query', { xmlns: NS.DISCO_INFO }, x('identity', { category: 'pubsub', type: 'service', name: title }));
      for (const f of [NS.DISCO_INFO, NS.DISCO_ITEMS, NS.PUBSUB, ...SERVICE_FEATURES].sort()) q.c('feature', { var: f });
      return q;
    });
    ctx.iq('get', 'host', NS.DISCO_ITEMS, 'query', async (ev) => {
      const node = ev.stanza.getChild('query')?.attrs.node;
      const from = sender(ev);
      if (node !== undefined) {
        // A node's items by id (XEP-0060 §5.5), to those who may read them.
        const { config, aff, isSubscribed } = await visible(node, from);
        checkRead(aff, config, isSubscribed);
        const q = x('query', { xmlns: NS.DISCO_ITEMS, node });
        for (const item of await engine.items(service, node)) q.c('item', { jid: service, name: item.attrs.id });
        return q;
      }
      // Only the nodes the asker may see: a whitelist node is not shown to strangers.
      const q = x('query', { xmlns: NS.DISCO_ITEMS });
      const bare = from.bare().toString();
      for (const n of await engine.listing(service)) {
        if (mayDiscover(affiliationOf(policy, n.affiliations, bare), n.config, holds(n.subscribers, bare, from.toString()))) {
          q.c('item', { jid: service, node: n.node, ...(n.config.title ? { name: n.config.title } : {}) });
        }
      }
      return q;
    });
  },
});
