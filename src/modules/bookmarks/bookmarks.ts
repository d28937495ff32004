// Bookmarks 2 with the compatibility of Prosody's `bookmarks` module. References: XEP-0402
// (Bookmarks 2 and its compatibility section), XEP-0048 (storage:bookmarks), XEP-0049 (private XML storage),
// XEP-0223 (the legacy PEP node storage:bookmarks).
//
// The PEP node urn:xmpp:bookmarks:1 is the one truth, as in Prosody: legacy clients' reads of
// <storage xmlns='storage:bookmarks'/>, from private XML storage (#compat) or from the legacy PEP
// node (#compat-pep), are answered from it, and their writes become publishes and retracts on it
// (only what changed). Since nothing is copied back, a change can never bounce between the formats.
// What Bookmarks 2 cannot hold (<url/> bookmarks) stays in private storage beside it and is merged
// into legacy reads. Legacy bookmarks already in private storage move to PEP when the user binds a
// resource (option upgrade_legacy_bookmarks, as Prosody), keeping only those extras.
import { defineModule, DECLINE } from '../../core/modules.js';
import { Priority } from '../../core/events.js';
import { StanzaError } from '../../core/errors.js';
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { fromJSON, toJSON, type ElementJSON } from '../../xml/json.js';
import type { PepService } from '../pep/service.js';
import { perUser, publishPreferring } from '../pep-use.js';
import { BOOKMARKS2_OPTIONS, NS_BOOKMARKS2, NS_LEGACY, NS_PUBSUB, legacyExtras, plan, roomOf, toLegacyStorage } from './convert.js';

/** The private-storage key (the private module's "name namespace") of legacy bookmarks. */
const PRIVATE_KEY = `storage ${NS_LEGACY}`;

export default defineModule({
  name: 'bookmarks',
  depends: ['pep'],
  setup(ctx) {
    for (const f of [`${NS_BOOKMARKS2}#compat`, `${NS_BOOKMARKS2}#compat-pep`]) ctx.provide('account-feature', f);
    const privateStore = ctx.store<ElementJSON>('private', 'map');
    const pep = (): PepService => {
      const service = ctx.items('pep-service')[0];
      if (!service) throw new StanzaError('service-unavailable', 'bookmarks need the pep module');
      return service;
    };
    const serial = perUser();
    const upgrade = ctx.option.boolean('upgrade_legacy_bookmarks', true);

    /** The legacy <storage/> as a legacy client should see it: PEP's rooms and the kept extras. */
    const legacyView = async (user: string): Promise<Element> => {
      const [items, kept] = await Promise.all([pep().items(user, NS_BOOKMARKS2), privateStore.get(user, PRIVATE_KEY)]);
      // Items come newest first; legacy clients list rooms in the order they were added. Rooms
      // still in private storage (not moved yet: the move failed or has not run) are shown too.
      const inPep = new Set<string | undefined>(items.map((i) => i.attrs.id));
      const rest = kept ? fromJSON(kept).elements().filter((e) => e.local !== 'conference' || !inPep.has(roomOf(e))) : [];
      return toLegacyStorage([...items].reverse(), rest);
    };

    /** Users whose legacy write is under way: its changes make one legacy notification, at its end. */
    const writing = new Set<string>();

    /** Make Bookmarks 2 say what `storage` says; `complete` retracts the rooms it no longer lists. */
    const write = (user: string, storage: Element, complete: boolean): Promise<void> => serial(user, async () => {
      const service = pep();
      // As Prosody: a node its owner configured otherwise is put back to what XEP-0402 requires
      // (whitelist above all), silently for the client, with a warning in the log.
      if (await service.enforce(user, NS_BOOKMARKS2, BOOKMARKS2_OPTIONS)) {
        ctx.log.warn({ user }, 'Bookmarks 2 node configuration overridden to what XEP-0402 requires (access_model whitelist)');
      }
      const { publish, retract } = plan(storage, await service.items(user, NS_BOOKMARKS2));
      const before = JSON.stringify(await privateStore.get(user, PRIVATE_KEY) ?? null);
      writing.add(user);
      try {
        for (const item of publish) await publishPreferring(service, user, NS_BOOKMARKS2, item, BOOKMARKS2_OPTIONS, ctx.log);
        if (complete) for (const room of retract) await service.retract(user, NS_BOOKMARKS2, room);
        const extras = legacyExtras(storage);
        const kept = extras.length ? toJSON(x('storage', { xmlns: NS_LEGACY }, ...extras)) : undefined;
        await privateStore.set(user, PRIVATE_KEY, kept);
        if (publish.length > 0 || (complete && retract.length > 0) || JSON.stringify(kept ?? null) !== before) await notifyLegacy(user);
      } finally {
        writing.delete(user);
      }
    });

    /**
     * The legacy PEP notification (XEP-0048 over XEP-0163, item 'current' holding the whole
     * <storage/>) to the user's own resources whose caps show storage:bookmarks+notify, or to
     * `only`. As Prosody's compat broadcast: the legacy node is whitelist, so contacts never get it.
     */
    const notifyLegacy = async (user: string, only?: string): Promise<void> => {
      const own = `${user}@${ctx.host.name}/`;
      const targets = only ? [only] : pep().interested(user, NS_LEGACY).filter((jid) => jid.startsWith(own));
      if (targets.length === 0) return;
      const storage = await legacyView(user);
      const event = (): Element => x('event', { xmlns: NS.PUBSUB_EVENT }, x('items', { node: NS_LEGACY }, x('item', { id: 'current' }, storage.clone())));
      await Promise.all(targets.map((to) => ctx.send(x('message', { type: 'headline', from: `${user}@${ctx.host.name}`, to }, event()))));
    };
    const onChange = ({ user, node }: { user: string; node: string }): undefined => {
      if (node === NS_BOOKMARKS2 && !writing.has(user)) {
        notifyLegacy(user).catch((err: unknown) => ctx.log.warn({ err, user }, 'the legacy bookmarks notification failed'));
      }
      return undefined;
    };
    ctx.hook('pep-item-published', onChange);
    ctx.hook('pep-item-retracted', onChange);
    ctx.hook('pep-node-emptied', onChange);
    // A legacy client that shows interest gets the current bookmarks at once (Prosody sends them at
    // its initial presence, when its caps may not be known yet).
    ctx.hook('pep-interest-shown', ({ user, jid, nodes }) => {
      if (nodes.includes(NS_LEGACY) && jid.startsWith(`${user}@${ctx.host.name}/`)) {
        notifyLegacy(user, jid).catch((err: unknown) => ctx.log.warn({ err, user }, 'the legacy bookmarks notification failed'));
      }
      return undefined;
    });

    // #compat: private XML storage (XEP-0049) of storage:bookmarks.
    ctx.iq('get', 'self', NS.PRIVATE, 'query', async (ev) => {
      const asked = ev.stanza.getChild('query', NS.PRIVATE)?.elements() ?? [];
      if (asked.length !== 1 || !isLegacy(asked[0]!)) return DECLINE;
      return x('query', { xmlns: NS.PRIVATE }, await legacyView(ev.from!.local));
    }, Priority.early);

    ctx.iq('set', 'self', NS.PRIVATE, 'query', async (ev) => {
      const query = ev.stanza.getChild('query', NS.PRIVATE);
      const storage = query?.elements().find(isLegacy);
      if (!query || !storage) return DECLINE;
      await write(ev.from!.local, storage, true);
      // Anything else in the same set is the private module's to store.
      query.children = query.children.filter((c) => c !== storage);
      return query.elements().length > 0 ? DECLINE : undefined;
    }, Priority.early);

    // #compat-pep: the legacy PEP node storage:bookmarks (XEP-0048 over XEP-0223), item 'current'.
    ctx.iq('get', 'self', NS_PUBSUB, 'pubsub', async (ev) => {
      const items = ev.stanza.getChild('pubsub', NS_PUBSUB)?.getChild('items');
      if (items?.attrs.node !== NS_LEGACY) return DECLINE;
      const storage = await legacyView(ev.from!.local);
      return x('pubsub', { xmlns: NS_PUBSUB }, x('items', { node: NS_LEGACY }, x('item', { id: 'current' }, storage)));
    }, Priority.early);

    ctx.iq('set', 'self', NS_PUBSUB, 'pubsub', async (ev) => {
      const publish = ev.stanza.getChild('pubsub', NS_PUBSUB)?.getChild('publish');
      if (publish?.attrs.node !== NS_LEGACY) return DECLINE;
      const storage = publish.getChild('item')?.getChild('storage', NS_LEGACY);
      if (!storage) throw new StanzaError('bad-request', 'publish one <item/> holding <storage xmlns="storage:bookmarks"/>');
      await write(ev.from!.local, storage, true);
      return x('pubsub', { xmlns: NS_PUBSUB }, x('publish', { node: NS_LEGACY }, x('item', { id: 'current' })));
    }, Priority.early);

    // Legacy bookmarks stored before this module was loaded move to Bookmarks 2 (never removing a room).
    ctx.hook('session-bound', ({ session }) => {
      if (!upgrade || session.host !== ctx.host.name || ctx.items('pep-service').length === 0) return;
      const user = session.username;
      void (async () => {
        const stored = await privateStore.get(user, PRIVATE_KEY);
        const storage = stored && fromJSON(stored);
        if (!storage || storage.getChildren('conference').length === 0) return;
        await write(user, storage, false);
        ctx.log.info({ user }, 'legacy bookmarks moved to Bookmarks 2 (XEP-0402)');
      })().catch((err: unknown) => ctx.log.error({ err, user }, 'moving legacy bookmarks to Bookmarks 2 failed; they stay in private storage'));
    });
  },
});

function isLegacy(el: Element): boolean {
  return el.local === 'storage' && el.xmlns === NS_LEGACY;
}

