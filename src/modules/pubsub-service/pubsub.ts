// The pubsub service component (Component "pubsub.example" "pubsub"), as Prosody's mod_pubsub:
// nodes on the component's domain, on the same engine as PEP (../pubsub/). Node creation is for
// the service admins (`admins` and `pubsub_admins`) unless `restrict_node_creation` is off; the
// creator owns the node; owners configure, purge, delete and set affiliations; owners and
// publishers publish and retract; subscribers get headline notifications from the domain.
// References: XEP-0060 (publish-subscribe), XEP-0030 (disco of the service and its nodes).
import { randomUUID } from 'node:crypto';
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { tryParseJid, type Jid } from '../../jid/jid.js';
import { defineModule } from '../../core/modules.js';
import { StanzaError } from '../../core/errors.js';
import { streamNamespace } from '../../core/session.js';
import type { StanzaEvent } from '../../core/events-map.js';
import { checkNodeName, PubsubEngine, type Affiliation, type Change, type StoredNode } from '../pubsub/engine.js';
import { ownerRequest, pubsubGet, pubsubSet, type Requester } from '../pubsub/requests.js';
import { configForm, defaultConfig, readConfigForm, type NodeConfig } from '../pubsub/node-config.js';
import { affiliationOf, checkCreate, checkRead, mayPublish, mayRead, type ServicePolicy } from './access.js';
import { ownerAffiliations, ownerSubscriptions, setAffiliations, setSubscriptions, userAffiliations } from './lists.js';

/** What the service offers in its disco#info. Only what is implemented. */
export const SERVICE_FEATURES = [
  'access-open', 'access-whitelist', 'config-node', 'create-and-configure', 'create-nodes', 'delete-items',
  'delete-nodes', 'instant-nodes', 'item-ids', 'manage-affiliations', 'manage-subscriptions', 'modify-affiliations',
  'outcast-affiliation', 'member-affiliation', 'publisher-affiliation', 'persistent-items', 'publish', 'purge-nodes',
  'retract-items', 'retrieve-affiliations', 'retrieve-default', 'retrieve-items', 'retrieve-subscriptions', 'subscribe', 'subscription-options',
].map((f) => `${NS.PUBSUB}#${f}`);

/** What a node of the service starts with (Prosody's util.pubsub defaults: open, 20 items, no last item). */
function serviceDefaults(maxItems: number): NodeConfig {
  return { ...defaultConfig(), access_model: 'open', max_items: Math.min(20, maxItems), send_last_published_item: 'never' };
}

/** Bare JIDs of a JID list option; entries that are not JIDs are skipped with a warning. */
function bareJids(list: readonly string[], warn: (text: string) => void): string[] {
  return list.flatMap((s) => {
    const j = tryParseJid(s);
    if (!j) warn(s);
    return j ? [j.bare().toString()] : [];
  });
}

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
    const engine = new PubsubEngine(ctx.store<StoredNode>('pubsub', 'map'), limits, deliver);

    const affiliation = async (node: string, jid: string): Promise<Affiliation> => affiliationOf(policy, await engine.affiliations(service, node), jid);
    /** The requester for the shared request code: `owner` when the node lets this JID publish. */
    const requester = async (from: Jid, node: string | undefined): Promise<Requester> => {
      const jid = from.bare().toString();
      const aff = node ? await affiliation(checkNodeName(node), jid) : 'none';
      return { jid, full: from.toString(), owner: mayPublish(aff), mayRead: async (config) => checkRead(aff, config) };
    };
    const sender = (ev: StanzaEvent): Jid => ev.from as Jid;
    const pubsubOf = (ev: StanzaEvent, ns: string): Element => ev.stanza.getChild('pubsub', ns) as Element;

    const create = async (from: Jid, req: Element): Promise<Element | undefined> => {
      const jid = from.bare().toString();
      checkCreate(policy, jid);
      const name = req.getChild('create')?.attrs.node;
      const instant = name === undefined || name === '';
      const node = instant ? randomUUID() : checkNodeName(name);
      const form = req.getChild('configure')?.getChild('x', NS.DATA_FORMS);
      const changes = form ? readConfigForm(form, NS.PUBSUB_NODE_CONFIG, limits.maxItems) : {};
      await engine.create(service, node, { ...serviceDefaults(limits.maxItems), ...changes });
      await engine.setAffiliations(service, node, new Map([[jid, 'owner']]));
      return instant ? x('pubsub', { xmlns: NS.PUBSUB }, x('create', { node })) : undefined;
    };

    /** The last item to a new subscriber, when the node says so (XEP-0060 §6.1.7). */
    const sendLast = async (node: string, to: string): Promise<void> => {
      const config = await engine.config(service, node);
      if (!config || config.send_last_published_item === 'never' || !config.deliver_notifications) return;
      const last = await engine.lastItem(service, node, config);
      if (last) await ctx.send(x('message', { type: 'headline', from: service, to, id: randomUUID() }, ...last));
    };

    ctx.iq('set', 'host', NS.PUBSUB, 'pubsub', async (ev) => {
      const req = pubsubOf(ev, NS.PUBSUB);
      if (req.getChild('create')) return create(sender(ev), req);
      const op = req.getChild('publish') ?? req.getChild('retract') ?? req.getChild('subscribe') ?? req.getChild('unsubscribe');
      const result = await pubsubSet(engine, service, req, await requester(sender(ev), op?.attrs.node), ev.stanza, streamNamespace(ev.origin));
      if (op?.local === 'subscribe' && op.attrs.node && op.attrs.jid) {
        sendLast(op.attrs.node, op.attrs.jid).catch((err: unknown) => ctx.log.warn({ err }, 'sending the last pubsub item failed'));
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
        if (op?.local === 'default' && type === 'get') return x('pubsub', { xmlns: NS.PUBSUB_OWNER }, x('default', null, configForm(serviceDefaults(limits.maxItems))));
        const node = checkNodeName(op?.attrs.node);
        const jid = sender(ev).bare().toString();
        if ((await affiliation(node, jid)) !== 'owner') throw new StanzaError('forbidden', 'only an owner of the node may do this');
        switch (`${type} ${op?.local}`) {
          case 'get subscriptions': return ownerSubscriptions(engine, service, node);
          case 'get affiliations': return ownerAffiliations(engine, service, node);
          case 'set affiliations': return setAffiliations(engine, service, node, op as Element, jid);
          case 'set delete': {
            const uri = op?.getChild('redirect')?.attrs.uri;
            if (uri !== undefined && (uri === '' || uri.length > 1024)) throw new StanzaError('bad-request', 'a redirect names a URI of at most 1024 characters');
            await engine.deleteNode(service, node, uri);
            return undefined;
          }
          case 'set subscriptions': return setSubscriptions(engine, service, node, op as Element);
          default: return ownerRequest(engine, service, type, req, { jid, full: sender(ev).toString(), owner: true, mayRead: async () => undefined });
        }
      });
    }

    // The service answers disco itself: a component has no `disco` module (that one is a server's).
    ctx.iq('get', 'host', NS.DISCO_INFO, 'query', async (ev) => {
      const node = ev.stanza.getChild('query')?.attrs.node;
      if (node !== undefined) {
        const config = await engine.config(service, node);
        if (!config) throw new StanzaError('item-not-found', 'no such node');
        return x('query', { xmlns: NS.DISCO_INFO, node }, x('identity', { category: 'pubsub', type: 'leaf', ...(config.title ? { name: config.title } : {}) }), x('feature', { var: NS.PUBSUB }));
      }
      const q = x('query', { xmlns: NS.DISCO_INFO }, x('identity', { category: 'pubsub', type: 'service', name: title }));
      for (const f of [NS.DISCO_INFO, NS.DISCO_ITEMS, NS.PUBSUB, ...SERVICE_FEATURES].sort()) q.c('feature', { var: f });
      return q;
    });
    ctx.iq('get', 'host', NS.DISCO_ITEMS, 'query', async (ev) => {
      if (ev.stanza.getChild('query')?.attrs.node !== undefined) return x('query', { xmlns: NS.DISCO_ITEMS, node: ev.stanza.getChild('query')?.attrs.node });
      // Only the nodes the asker may read: a whitelist node is not shown to strangers (as Prosody).
      const q = x('query', { xmlns: NS.DISCO_ITEMS });
      const jid = sender(ev).bare().toString();
      for (const node of await engine.nodes(service)) {
        const config = await engine.config(service, node);
        if (config && mayRead(await affiliation(node, jid), config)) q.c('item', { jid: service, node });
      }
      return q;
    });
  },
});
