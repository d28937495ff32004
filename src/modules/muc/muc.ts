// The MUC component (Component "conference.example" "muc"), as Prosody's mod_muc: rooms on the
// component's domain, created on first join (or by admins only with restrict_room_creation),
// occupants with roles and affiliations, messages, private messages, subject, history on join,
// persistent rooms that survive a restart, service and room discovery, and the limits of
// docs/limits.md. Occupants of local users leave when their session closes: the user's server
// sends the unavailable presence it owes every directed-presence target (RFC 6121 §4.6).
// References: XEP-0045 (multi-user chat), XEP-0410 (self-ping), XEP-0421 (occupant id).
import { x } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { defineModule } from '../../core/modules.js';
import { StanzaError } from '../../core/errors.js';
import type { StanzaEvent } from '../../core/events-map.js';
import type { Jid } from '../../jid/jid.js';
import { MucService } from './service.js';
import type { Room, StoredRoom } from './room.js';
import { loadSalt } from './occupant-id.js';
import { readCreation, readDefaults, readLimits } from './options.js';
import { bounced, domainLost, occupantPresenceIn } from './join.js';
import { privateMessage, roomMessage } from './messages.js';
import { adminGet, adminSet, NS_MUC_ADMIN } from './admin.js';
import { ownerGet, ownerSet, NS_MUC_OWNER } from './owner.js';
import { roomInfo, roomItems, serviceInfo, serviceItems } from './disco.js';
import { NS_REGISTER, registerGet, registerSet } from './register.js';
import { OccupantIqs } from './occupant-iq.js';
import { occupantPresence, addressed, NS_MUC } from './broadcast.js';

export default defineModule({
  name: 'muc',
  async setup(ctx) {
    const limits = readLimits(ctx);
    const svc = new MucService({
      domain: ctx.host.name,
      limits,
      defaults: readDefaults(ctx, limits),
      creation: readCreation(ctx),
      store: ctx.store<StoredRoom>('muc_rooms', 'keyval'),
      salt: await loadSalt(ctx.store<string>('muc_occupant_id', 'keyval')),
      send: (el) => ctx.send(el),
      log: ctx.log,
      archive: () => ctx.items('muc-archive')[0],
    });
    ctx.provide('muc-service', svc);
    await svc.load();
    const title = ctx.option.string('name', 'Chatrooms');
    const iqs = new OccupantIqs(svc);

    const from = (ev: StanzaEvent): Jid => ev.from as Jid;
    const to = (ev: StanzaEvent): Jid => ev.to as Jid;
    /** The room a stanza is for, or item-not-found. */
    const existing = (ev: StanzaEvent): Room => {
      const room = svc.rooms.get(to(ev).local);
      if (!room) throw new StanzaError('item-not-found', 'No such room');
      return room;
    };

    ctx.hook('presence/full', async (ev) => {
      if (!ev.from) return true;
      await occupantPresenceIn(svc, ev.stanza, from(ev), to(ev));
      return true;
    });
    // A join without a nickname (§7.2.1: jid-malformed); other presence to the room's bare JID
    // or the service means nothing here (probes, subscriptions).
    ctx.hook('presence/bare', (ev) => {
      if (ev.stanza.attrs.type === undefined && ev.stanza.getChild('x', NS_MUC)) throw new StanzaError('jid-malformed', 'Join a room as room@service/nickname');
      return true;
    });
    ctx.hook('presence/host', () => true);

    /** An error bounced to the room or an occupant JID: its sender's session may be gone. */
    const bounce = async (ev: StanzaEvent): Promise<true> => {
      const room = svc.rooms.get(to(ev).local);
      if (room && ev.from) await bounced(svc, room, ev.stanza, from(ev));
      return true;
    };
    ctx.hook('message/bare', async (ev) => {
      if (ev.stanza.attrs.type === 'error') return bounce(ev);
      if (!ev.from) return true;
      return roomMessage(svc, existing(ev), ev.stanza, from(ev));
    });
    ctx.hook('message/full', async (ev) => {
      if (ev.stanza.attrs.type === 'error') return bounce(ev);
      if (!ev.from) return true;
      privateMessage(svc, existing(ev), ev.stanza, from(ev), to(ev).resource);
      return true;
    });
    ctx.hook('iq/full', (ev) => {
      if (!ev.from) return true;
      const room = svc.rooms.get(to(ev).local);
      if (!room) {
        if (ev.stanza.attrs.type === 'get' || ev.stanza.attrs.type === 'set') throw new StanzaError('item-not-found', 'No such room');
        return true;
      }
      return iqs.handle(room, ev.stanza, from(ev), to(ev).resource);
    });

    const query = (ev: StanzaEvent, ns: string) => ev.stanza.getChild('query', ns) ?? x('query');
    ctx.iq('get', 'bare', NS.DISCO_INFO, 'query', (ev) => roomInfo(svc, svc.rooms.get(to(ev).local), from(ev), query(ev, NS.DISCO_INFO).attrs.node));
    ctx.iq('get', 'bare', NS.DISCO_ITEMS, 'query', (ev) => roomItems(svc, svc.rooms.get(to(ev).local), from(ev)));
    ctx.iq('get', 'bare', NS_MUC_ADMIN, 'query', (ev) => adminGet(svc, existing(ev), from(ev), query(ev, NS_MUC_ADMIN)));
    ctx.iq('set', 'bare', NS_MUC_ADMIN, 'query', async (ev) => adminSet(svc, existing(ev), from(ev), query(ev, NS_MUC_ADMIN)));
    ctx.iq('get', 'bare', NS_MUC_OWNER, 'query', (ev) => ownerGet(svc, existing(ev), from(ev)));
    ctx.iq('set', 'bare', NS_MUC_OWNER, 'query', async (ev) => ownerSet(svc, existing(ev), from(ev), query(ev, NS_MUC_OWNER)));
    ctx.iq('get', 'bare', NS.PING, 'ping', (ev) => void existing(ev));
    ctx.iq('get', 'bare', NS_REGISTER, 'query', (ev) => registerGet(svc, existing(ev), from(ev)));
    ctx.iq('set', 'bare', NS_REGISTER, 'query', (ev) => registerSet(svc, existing(ev), from(ev), query(ev, NS_REGISTER)));

    // The service answers disco itself: a component loads no `disco` module.
    ctx.iq('get', 'host', NS.DISCO_INFO, 'query', (ev) => {
      if (ev.stanza.getChild('query')?.attrs.node !== undefined) throw new StanzaError('item-not-found', 'No such node');
      return serviceInfo(title);
    });
    ctx.iq('get', 'host', NS.DISCO_ITEMS, 'query', () => serviceItems(svc));
    ctx.iq('get', 'host', NS.PING, 'ping', () => undefined);

    // A remote server gone (its link with this component failed or was lost): its occupants leave
    // with 333 now, no ghosts until a bounce. The component routes as its own domain, so only its
    // own links matter; an idle close does not fire this.
    ctx.hook('s2s-remote-lost', async ({ remote }) => {
      const n = await domainLost(svc, remote);
      if (n > 0) ctx.log.info({ remote, sessions: n }, 'muc: occupants of a lost remote server removed');
      return undefined;
    });

    // §15.6 status 332: the service is going down, everyone is out of every room.
    ctx.hook('server-stopping', () => {
      for (const room of svc.rooms.values()) {
        for (const o of room.occupants.values()) {
          const p = occupantPresence(room, o, { type: 'unavailable', codes: [332], payload: [] }, true, true, room.affiliation(o.bare));
          for (const session of o.sessions.keys()) svc.send(addressed(p, session));
          o.sessions.clear();
        }
        room.occupants.clear();
        room.bySession.clear();
      }
      return undefined;
    });

    return () => {
      for (const room of svc.rooms.values()) clearTimeout(room.lockTimer);
    };
  },
});
