// Personal eventing: every account is a pubsub service on its bare JID, on the pubsub engine.
// The owner publishes (nodes are created on first publish, publish-options as their config),
// retracts, configures, purges and deletes; others read per the node's access model.
// Notifications go to the full JIDs whose entity capabilities show `<node>+notify` and whom the
// access model lets read (the owner's own resources included); the last item goes to each such
// JID when its interest first shows (a contact coming online). As Prosody's mod_pep.
// References: XEP-0163 (PEP), XEP-0060 (pubsub), XEP-0115 (entity capabilities).
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { parseJid, type Jid } from '../../jid/jid.js';
import { DECLINE, defineModule } from '../../core/modules.js';
import { Priority } from '../../core/events.js';
import { StanzaError } from '../../core/errors.js';
import { streamNamespace } from '../../core/session.js';
import type { StanzaEvent } from '../../core/events-map.js';
import { PubsubEngine, type Change, type StoredNode } from '../pubsub/engine.js';
import { ownerRequest, pubsubGet, pubsubSet, type Requester } from '../pubsub/requests.js';
import { meets, readFields } from '../pubsub/node-config.js';
import { DiscoAsker } from '../caps/disco-ask.js';
import { DEFAULT_INTEREST_LIMITS, NotifyInterest } from '../caps/notify-interest.js';
import { checkRead, mayRead } from './access.js';
import { seesContact } from '../roster/roster-store.js';
import { knowsAccount } from '../roster/strangers.js';
import type { NodeOptions, PepService } from './service.js';

/** What PEP offers, in every account's disco#info (XEP-0163 §6.1). Only what is implemented. */
export const PEP_FEATURES = [
  'access-open', 'access-presence', 'access-roster', 'access-whitelist', 'auto-create', 'config-node',
  'create-nodes', 'delete-items', 'delete-nodes', 'filtered-notifications', 'item-ids', 'last-published',
  'persistent-items', 'publish', 'publish-options', 'purge-nodes', 'retract-items', 'retrieve-default',
  'retrieve-items', 'retrieve-subscriptions', 'subscribe', 'subscription-options',
].map((f) => `${NS.PUBSUB}#${f}`);

/** Explicit subscriptions per node (XEP-0060 §6.1); most PEP notifications go by +notify instead. */
const MAX_SUBSCRIBERS = 1000;

/** How long a client has to answer the caps disco#info query. */
const CAPS_QUERY_TIMEOUT_MS = 30_000;

export default defineModule({
  name: 'pep',
  setup(ctx) {
    const host = ctx.host;
    const limits = {
      maxItems: ctx.option.number('pep_max_items', 256, { min: 1, max: 10000 }),
      itemBytes: ctx.option.number('pep_max_item_bytes', 256 * 1024, { min: 1024, max: 16 * 1024 * 1024 }),
      nodes: ctx.option.number('pep_max_nodes', 256, { min: 1, max: 100000 }),
      serviceBytes: ctx.option.number('pep_max_bytes', 8 * 1024 * 1024, { min: 64 * 1024, max: 1024 * 1024 * 1024 }),
      subscribers: MAX_SUBSCRIBERS,
    };
    const rosters = (): ReturnType<typeof ctx.items<'roster-store'>>[number] | undefined => ctx.items('roster-store')[0];
    const bareOf = (user: string): string => `${user}@${host.name}`;

    const deliver = async (change: Change): Promise<void> => {
      const user = change.service;
      if (change.kind === 'publish' && change.item) await ctx.fire('pep-item-published', { user, node: change.node, item: change.item });
      if (change.kind === 'retract' && change.id) await ctx.fire('pep-item-retracted', { user, node: change.node, id: change.id });
      if (change.kind === 'purge' || change.kind === 'delete') await ctx.fire('pep-node-emptied', { user, node: change.node, kind: change.kind });
      if (!change.config.deliver_notifications) return;
      const out: (void | Promise<void>)[] = [];
      for (const jid of new Set([...interest.recipients(user, change.node), ...change.subscribers])) {
        out.push(notifyOne(user, jid, change.event, change));
      }
      await Promise.all(out);
    };

    const notifyOne = async (user: string, jid: string, event: Element | Element[], change: Pick<Change, 'config'>): Promise<void> => {
      const to = parseJid(jid);
      if (!(await mayRead(rosters(), host.name, user, to.bare(), change.config))) return;
      const sent = ctx.send(x('message', { type: 'headline', from: bareOf(user), to: jid }, ...[event].flat()));
      // A remote contact's notification waits in the s2s queue (a tunnel may take minutes to
      // build): the publisher's answer does not wait for it.
      if (host.isLocal(to.domain)) await sent;
      else Promise.resolve(sent).catch((err: unknown) => ctx.log.warn({ err }, 'a PEP notification could not be queued'));
    };

    const engine = new PubsubEngine(ctx.store<StoredNode>('pep', 'map'), limits, deliver);

    // The last published item of each node a newly interested JID wants (XEP-0163 §4.3.4).
    const sendLast = async (user: string, jid: string, nodes: readonly string[], why: 'on_sub' | 'on_sub_and_presence'): Promise<void> => {
      for (const node of nodes) {
        const config = await engine.config(user, node);
        if (!config || config.send_last_published_item === 'never' || (why === 'on_sub_and_presence' && config.send_last_published_item === 'on_sub')) continue;
        const last = await engine.lastItem(user, node, config);
        if (last) await notifyOne(user, jid, last, { config });
      }
    };

    const asker = new DiscoAsker(host.name, (iq) => ctx.send(iq), CAPS_QUERY_TIMEOUT_MS);
    const interest = new NotifyInterest(DEFAULT_INTEREST_LIMITS, (user, jid, node) => asker.ask(user, jid, node), (user, jid, nodes) => {
      sendLast(user, jid, nodes, 'on_sub_and_presence').catch((err: unknown) => ctx.log.warn({ err }, 'sending the last PEP items failed'));
      Promise.resolve(ctx.fire('pep-interest-shown', { user, jid, nodes })).catch((err: unknown) => ctx.log.warn({ err }, 'a pep-interest-shown handler failed'));
    });

    // Interest counts from the user's own resources and from contacts whose presence the user
    // receives (as Prosody's mod_pep): a stranger's directed presence cannot fill the bounded
    // tables that real contacts need.
    const learnable = async (user: string, from: Jid): Promise<boolean> => {
      if (from.local === user && from.domain === host.name) return true;
      const r = rosters();
      return r !== undefined && seesContact((await r.load(user)).items[from.bare().toString()]);
    };
    const learn = (user: string, from: Jid | undefined, stanza: Element): void => {
      if (!from || !from.resource) return;
      const type = stanza.attrs.type;
      if (type === 'unavailable' || type === 'error') return interest.forget(user, from.toString());
      if (type !== undefined) return;
      const c = stanza.getChild('c', NS.CAPS);
      learnable(user, from)
        .then((ok) => (ok ? interest.learn(user, from.toString(), c) : undefined))
        .catch((err: unknown) => ctx.log.warn({ err }, 'learning entity capabilities failed'));
    };
    // Contacts' presence to the user, and the user's own resources' presence.
    for (const target of ['bare', 'full'] as const) {
      ctx.hook(`presence/${target}`, (ev) => {
        if (ev.to?.local) learn(ev.to.local, ev.from, ev.stanza);
        return undefined;
      }, Priority.early);
    }
    ctx.hook('presence/self', (ev) => {
      if (ev.from?.local) learn(ev.from.local, ev.from, ev.stanza);
      return undefined;
    }, Priority.early);
    ctx.hook('session-closed', ({ session }) => {
      if (session.jid) interest.forget(session.jid.local, session.jid.toString());
    });
    // A remote server gone without unavailable presence: its users' +notify must not keep
    // notifications routed and queued for it (they show interest again with their next presence).
    ctx.hook('s2s-remote-lost', ({ local, remote }) => {
      const n = local === host.name ? interest.forgetDomain(remote) : 0;
      if (n > 0) ctx.log.info({ remote, entries: n }, 'pep: caps interest of a lost remote server forgotten');
      return undefined;
    });
    for (const target of ['bare', 'self'] as const) ctx.hook(`iq/${target}`, (ev) => asker.answer(ev), Priority.early);

    /** The account an iq to 'self' or 'bare' is about, and who asks. */
    const requester = (ev: StanzaEvent): { user: string; who: Requester } => {
      const from = ev.from as Jid;
      const user = ev.to?.local ?? from.local;
      const owner = from.local === user && from.domain === host.name;
      const who: Requester = {
        jid: from.bare().toString(), full: from.toString(), owner,
        mayRead: (config) => checkRead(rosters(), host.name, user, from.bare(), config),
      };
      return { user, who };
    };
    const payload = (ev: StanzaEvent, ns: string): Element => ev.stanza.getChild('pubsub', ns) as Element;

    ctx.iq('set', ['self', 'bare'], NS.PUBSUB, 'pubsub', async (ev) => {
      const { user, who } = requester(ev);
      const request = payload(ev, NS.PUBSUB);
      const result = await pubsubSet(engine, user, request, who, ev.stanza, streamNamespace(ev.origin));
      const sub = request.getChild('subscribe');
      if (sub?.attrs.node && sub.attrs.jid) {
        sendLast(user, sub.attrs.jid, [sub.attrs.node], 'on_sub').catch((err: unknown) => ctx.log.warn({ err }, 'sending the last PEP item failed'));
      }
      return result;
    });
    ctx.iq('get', ['self', 'bare'], NS.PUBSUB, 'pubsub', async (ev) => {
      const { user, who } = requester(ev);
      return pubsubGet(engine, user, payload(ev, NS.PUBSUB), who);
    });
    for (const type of ['get', 'set'] as const) {
      ctx.iq(type, ['self', 'bare'], NS.PUBSUB_OWNER, 'pubsub', async (ev) => {
        const { user, who } = requester(ev);
        return ownerRequest(engine, user, type, payload(ev, NS.PUBSUB_OWNER), who);
      });
    }

    // The account's nodes in its disco#items (XEP-0060 §5.2), for itself and its contacts, each
    // seeing the nodes it may read; strangers get disco's answer, which tells them nothing.
    ctx.iq('get', ['self', 'bare'], NS.DISCO_ITEMS, 'query', async (ev) => {
      if (ev.stanza.getChild('query')?.attrs.node !== undefined) return DECLINE;
      const { user, who } = requester(ev);
      if (!who.owner && !(await knowsAccount(ctx, user, ev.from))) return DECLINE;
      const q = x('query', { xmlns: NS.DISCO_ITEMS });
      for (const node of await engine.nodes(user)) {
        const config = await engine.config(user, node);
        if (config && (who.owner || (await mayRead(rosters(), host.name, user, (ev.from as Jid).bare(), config)))) q.c('item', { jid: bareOf(user), node });
      }
      return q;
    }, Priority.early);

    ctx.provide('account-identity', { category: 'pubsub', type: 'pep' });
    for (const f of PEP_FEATURES) ctx.provide('account-feature', f);

    const service: PepService = {
      publish: (user, node, item, options) => engine.publish(user, node, item, bareOf(user), options ? readFields(optionFields(options), limits.maxItems) : undefined),
      retract: (user, node, id) => ignoreMissing(engine.retract(user, node, [id], true), undefined),
      items: (user, node) => ignoreMissing(engine.items(user, node), []),
      deleteNode: (user, node) => ignoreMissing(engine.deleteNode(user, node), undefined),
      interested: (user, node) => interest.recipients(user, node),
      enforce: async (user, node, options) => {
        const config = await engine.config(user, node);
        const wanted = readFields(optionFields(options), limits.maxItems);
        if (!config || meets(config, wanted)) return false;
        await ignoreMissing(engine.configure(user, node, wanted), undefined);
        return true;
      },
    };
    ctx.provide('pep-service', service);

    ctx.hook('user-deleted', async ({ host: name, username }) => {
      if (name !== host.name) return undefined;
      interest.forgetUser(username);
      await engine.deleteService(username);
      return undefined;
    });
    return () => asker.close();
  },
});

/** NodeOptions as form fields. */
function optionFields(options: NodeOptions): Map<string, readonly string[]> {
  return new Map(Object.entries(options).map(([k, v]) => [k, typeof v === 'string' ? [v] : v]));
}

/** `fallback` when the node or item does not exist. */
async function ignoreMissing<T>(p: Promise<T>, fallback: T): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof StanzaError && err.condition === 'item-not-found') return fallback;
    throw err;
  }
}
