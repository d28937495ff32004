// Room history in MAM (XEP-0313 on the room JID), as Prosody's mod_muc_mam: loaded on a muc
// component by listing "muc_mam" in its modules_enabled (as in Prosody: an operator chooses to
// keep room logs on disk, which on an anonymity network is a choice to make, not a default).
// Each room with archiving on (muc#roomconfig_enablearchiving, on by default as Prosody's
// muc_log_by_default) archives its groupchat messages with a body in the component's archive
// store `muc_log` (owner = the room's node), stamps them with <stanza-id by='room@service'/>
// before the broadcast, and answers archive queries with the user archive's form, RSM and
// serialisation (../mam/query.ts): results come from the room JID, senders as room/nick.
// Who may query (Prosody's rules): anyone but outcasts, and only members (or higher) of a
// members-only room. archive_expires_after applies (../mam/expiry.ts); a destroyed room's
// archive is deleted. Built by createMucMam(clock) so tests move time (../mam/expiry.ts).
import { defineModule, type ModuleDefinition } from '../../core/modules.js';
import { StanzaError } from '../../core/errors.js';
import { NS } from '../../xml/ns.js';
import type { StanzaEvent } from '../../core/events-map.js';
import { appendMakingRoom } from '../mam/archiving.js';
import { answerQuery, parseQuery } from '../mam/query.js';
import { queryForm } from '../mam/form.js';
import { archiveLimits } from '../mam/store-limits.js';
import { startExpiry, systemClock, type MamClock } from '../mam/expiry.js';
import type { Room } from '../muc/room.js';
import '../muc/room-archive.js';
import { GROUPCHAT_WITH, shownCopy, storedCopy } from './archive.js';

/** The room archive module, reading time from `clock`. */
export function createMucMam(clock: MamClock): ModuleDefinition {
  return defineModule({
    name: 'muc_mam',
    setup(ctx) {
      const pageMax = ctx.option.number('max_archive_query_results', 50, { min: 1, max: 1000, integer: true });
      const store = ctx.store('muc_log', 'archive', archiveLimits(ctx));
      const deps = { store, log: ctx.log, now: () => clock.now() };

      ctx.provide('muc-archive', {
        append: (room, stanza, sender) => appendMakingRoom(deps, room.node, GROUPCHAT_WITH, storedCopy(room, stanza, sender).toString()),
        deleteRoom: (node) => store.deleteOwner(node),
      });

      /** The room asked, if this JID may read its archive (Prosody: not outcasts; members-only rooms only their members). */
      const readable = (ev: StanzaEvent): Room => {
        const svc = ctx.items('muc-service')[0];
        const room = ev.to ? svc?.rooms.get(ev.to.local) : undefined;
        const bare = ev.from?.bare().toString() ?? '';
        if (!svc || !room || (room.locked && svc.affiliation(room, bare) !== 'owner')) throw new StanzaError('item-not-found', 'No such room');
        const aff = svc.affiliation(room, bare);
        if (aff === 'outcast' || (room.config.membersOnly && aff === 'none')) throw new StanzaError('forbidden', "You may not read this room's archive");
        return room;
      };

      for (const ns of [NS.MAM, NS.MAM1]) {
        ctx.iq('get', 'bare', ns, 'query', (ev) => {
          readable(ev);
          return queryForm(ns);
        });
        ctx.iq('set', 'bare', ns, 'query', async (ev) => {
          const room = readable(ev);
          const q = parseQuery(ev.stanza.getChild('query', ns)!, ns, pageMax);
          // Every item is a groupchat message; `with` names stanza types in Prosody's store, not people.
          q.filters.with = GROUPCHAT_WITH;
          const view = { ns, to: ev.from!.toString(), from: room.jid, show: (el: Parameters<typeof shownCopy>[1]) => shownCopy(room, el) };
          return answerQuery(store, room.node, q, view, (el) => ctx.send(el),
            (item) => ctx.log.warn({ room: room.jid, id: item.id }, 'an archived room message could not be parsed'));
        });
      }

      return startExpiry(ctx.option.get<number>('archive_expires_after'), clock, (before) => store.deleteOlderThan(before),
        (n) => ctx.log.info({ deleted: n }, 'expired room messages deleted'),
        (err) => ctx.log.error({ err }, 'deleting expired room messages failed'));
    },
  });
}

export default createMucMam(systemClock);
