// What the muc component and the muc_mam module (room history in MAM, as Prosody's mod_muc_mam)
// offer each other: the component offers its rooms ('muc-service'), muc_mam offers the archive
// ('muc-archive'). Both are read when a stanza comes, so load order does not matter, and a
// component without muc_mam in its modules_enabled archives nothing.
import type { Element } from '../../xml/element.js';
import type { MucService } from './service.js';
import type { Occupant, Room } from './room.js';

/** XEP-0045's feature for rooms whose stanza-ids are stable (archived by the room). */
export const NS_STABLE_ID = 'http://jabber.org/protocol/muc#stable_id';

/** A component's room archive. */
export interface RoomArchive {
  /** Archive a groupchat message as broadcast (from room/nick); resolves with its id once durable, undefined when it was not archived. */
  append(room: Room, stanza: Element, sender: Occupant): Promise<string | undefined>;
  /** Delete a room's whole archive (the room was destroyed). */
  deleteRoom(node: string): Promise<void>;
}

declare module '../../core/items-map.js' {
  interface ItemMap {
    /** The muc component's rooms (src/modules/muc/service.ts). Read by muc_mam. */
    'muc-service': MucService;
    /** The room archive of muc_mam (src/modules/muc-mam/). Read by muc. */
    'muc-archive': RoomArchive;
  }
}
