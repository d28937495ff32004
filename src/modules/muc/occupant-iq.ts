// Iqs to an occupant JID: a self-ping (XEP-0410) is answered by the room itself, so a client on
// a flaky tunnel learns whether it is still joined; other iqs (vCard, version, …) are passed to
// the occupant's session from the asker's occupant JID, with the id rewritten so the answer
// finds its way back, as Prosody does. Pending forwards are bounded in number and time.
// References: XEP-0045 §7.5 (occupant JIDs hide real JIDs), XEP-0410 (MUC self-ping).
import { randomUUID } from 'node:crypto';
import { Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import { iqResult } from '../../core/stanza.js';
import type { Jid } from '../../jid/jid.js';
import type { MucService } from './service.js';
import type { Room } from './room.js';

/** Forwarded iqs waiting for their answer, at most (the oldest are forgotten first). */
const MAX_PENDING = 10_000;
const PENDING_MS = 60_000;

interface Pending { id: string | undefined; asker: string; target: string; at: number }

/** Iq routing for one service. */
export class OccupantIqs {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly svc: MucService) {}

  /** An iq to room/nick from `from`; true when handled (errors are thrown). */
  handle(room: Room, stanza: Element, from: Jid, nick: string): true {
    const type = stanza.attrs.type;
    if (type === 'result' || type === 'error') return this.answer(room, stanza, from, nick);
    const asker = room.bySession.get(from.toString());
    if (!asker) throw new StanzaError('not-acceptable', 'You are not currently connected to this room');
    const target = room.occupants.get(nick);
    const payload = stanza.elements()[0];
    if (payload?.local === 'ping' && payload.xmlns === NS.PING && target === asker) {
      this.svc.send(iqResult(stanza));
      return true;
    }
    if (!target) throw new StanzaError('item-not-found', 'No occupant has that nickname');
    const session = target.sessions.keys().next().value as string;
    const id = randomUUID();
    this.remember(id, { id: stanza.attrs.id, asker: from.toString(), target: session, at: Date.now() });
    this.svc.send(new Element('iq', { type: type ?? 'get', id, from: `${room.jid}/${asker.nick}`, to: session }, [...stanza.children]));
    return true;
  }

  private remember(id: string, p: Pending): void {
    const now = Date.now();
    for (const [k, v] of this.pending) {
      if (this.pending.size < MAX_PENDING && v.at > now - PENDING_MS) break;
      this.pending.delete(k);
    }
    this.pending.set(id, p);
  }

  /** An answer from an occupant's session to a forwarded iq goes back to the asker. */
  private answer(room: Room, stanza: Element, from: Jid, nick: string): true {
    const id = stanza.attrs.id ?? '';
    const p = this.pending.get(id);
    const answering = room.bySession.get(from.toString());
    if (!p || !answering || p.target !== from.toString()) return true;
    this.pending.delete(id);
    this.svc.send(new Element('iq', { type: stanza.attrs.type as string, ...(p.id !== undefined ? { id: p.id } : {}), from: `${room.jid}/${answering.nick}`, to: p.asker }, [...stanza.children]));
    return true;
  }
}
