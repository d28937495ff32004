// Offline messages: chat and normal messages for an account with no available resource are kept
// and delivered, oldest first and stamped with when they arrived, on the account's next available
// presence. References: XEP-0160 (Best Practices for Handling Offline Messages), XEP-0203
// (Delayed Delivery), XEP-0082 (date-time format), XEP-0334 (no-store / store hints),
// XEP-0085 §5.5 (chat states are not stored).
//
// One record per account in the 'offline' keyval store: the list of messages in arrival order.
// Each account's list is changed by one operation at a time; a message is acknowledged (no error
// to its sender) only once it is durable, and the list is deleted only after every message in it
// was handed to the session. A list is bounded in count and in bytes: past either, nothing already
// stored is touched and the new message is refused: with service-unavailable to the account itself
// and its presence contacts, and silently to strangers, who must not learn that the account
// exists, is offline, or how full its storage is (./roster/strangers.ts).
// A message that storage refuses for now (StorageBusyError: the disk or database is behind) is
// answered the same way, with resource-constraint (type wait) instead of service-unavailable.
import { Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { fromJSON, toJSON, type ElementJSON } from '../xml/json.js';
import { defineModule } from '../core/modules.js';
import { Priority } from '../core/events.js';
import { StanzaError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events-map.js';
import type { C2SSession } from '../core/session.js';
import { tryParseJid } from '../jid/jid.js';
import { knowsAccount } from './roster/strangers.js';
import { hasClaim } from './mam/stanza-id.js';
import { StorageBusyError } from '../storage/store.js';

/** Most messages kept for one account. */
export const MAX_OFFLINE_MESSAGES = 500;
/** Most bytes (stored JSON) kept for one account: every arrival rewrites the list, so it stays small. */
export const MAX_OFFLINE_BYTES = 2 * 1024 * 1024;

/** One stored message: the stanza as it arrived and when (XEP-0082 UTC). */
export interface OfflineMessage {
  stamp: string;
  stanza: ElementJSON;
}

/** Payloads that never make a message worth keeping on their own. */
const TRANSIENT = new Set<string | undefined>([NS.CHATSTATES, NS.HINTS]);

/**
 * What to do with a message for an account that is offline: 'store' it, 'drop' it silently (a
 * chat state alone means nothing later), or 'refuse' it (the sender asked that it not be stored).
 */
export function offlinePolicy(stanza: Element): 'store' | 'drop' | 'refuse' {
  const type = stanza.attrs.type ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return 'refuse';
  if (stanza.getChild('no-store', NS.HINTS)) return 'refuse';
  if (stanza.getChild('store', NS.HINTS)) return 'store';
  const worth = stanza.elements().some((c) => {
    const ns = c.xmlns;
    if (TRANSIENT.has(ns)) return false;
    // <thread/> only groups messages that have something else in them.
    return !((ns === undefined || ns === NS.CLIENT) && c.local === 'thread');
  });
  return worth ? 'store' : 'drop';
}

/** The stored message as it is delivered: with a <delay/> saying when this server got it. */
export function withDelay(m: OfflineMessage, host: string): Element {
  const el = fromJSON(m.stanza);
  el.append(x('delay', { xmlns: NS.DELAY, from: host, stamp: m.stamp }));
  return el;
}

/** Sessions of an account that take messages to its bare JID (RFC 6121 §8.5.2.1.1). */
function receivers(sessions: C2SSession[]): C2SSession[] {
  return sessions.filter((s) => s.state === 'bound' && s.presence !== undefined && s.priority >= 0);
}

export default defineModule({
  name: 'offline',
  setup(ctx) {
    const host = ctx.host;
    const store = ctx.store<OfflineMessage[]>('offline', 'keyval');
    ctx.feature(NS.MSGOFFLINE);

    // One operation at a time per account: appends, the delivery and deletion never interleave.
    const queues = new Map<string, Promise<unknown>>();
    const serial = <T>(user: string, task: () => Promise<T>): Promise<T> => {
      const run = (queues.get(user) ?? Promise.resolve()).then(task);
      const tail = run.catch(() => undefined);
      queues.set(user, tail);
      void tail.then(() => { if (queues.get(user) === tail) queues.delete(user); });
      return run;
    };
    /** Accounts whose stored messages are being delivered right now. */
    const delivering = new Map<string, Promise<void>>();

    const load = async (user: string): Promise<OfflineMessage[]> => {
      const v = await store.get(user);
      return Array.isArray(v) ? v : [];
    };

    ctx.hook('message/offline', async (ev: StanzaEvent) => {
      const user = ev.to?.local;
      if (!user) return undefined;
      const policy = offlinePolicy(ev.stanza);
      if (policy === 'drop') return true;
      if (policy === 'refuse') return undefined; // the message module tells the sender it was not delivered
      const record: OfflineMessage = { stamp: new Date().toISOString(), stanza: toJSON(ev.stanza) };
      // 'busy': storage refused the write for now (too much waits for the disk or database).
      const kept = await serial(user, async (): Promise<boolean | 'busy'> => {
        // A resource may have come online while this message waited its turn: it goes there.
        const online = receivers(host.sessions.ofUser(host.name, user));
        if (online.length) {
          for (const s of online) s.send(ev.stanza);
          return true;
        }
        const list = await load(user);
        if (list.length >= MAX_OFFLINE_MESSAGES) return false;
        list.push(record);
        if (JSON.stringify(list).length > MAX_OFFLINE_BYTES) return false;
        try {
          await store.set(user, list);
        } catch (err) {
          if (err instanceof StorageBusyError) return 'busy';
          throw err;
        }
        return true;
      });
      if (kept === true) return true;
      // The archive has it (module mam stamped its id): the account reads it there, so its sender
      // gets no error (as with Prosody's mod_mam), and the error would carry the archive's id.
      if (hasClaim(ev.stanza, `${user}@${host.name}`)) return true;
      if (!(await knowsAccount(ctx, user, ev.from))) {
        ctx.log.debug({ user }, `offline storage ${kept === 'busy' ? 'busy' : 'full'}: a message from a stranger was dropped`);
        return true;
      }
      if (kept === 'busy') throw new StanzaError('resource-constraint', 'the server\'s storage is busy; try again later', 'wait');
      throw new StanzaError('service-unavailable', 'the recipient is offline and has no room for more messages');
    });

    // The first available presence with a non-negative priority gets everything stored (XEP-0160 §4).
    ctx.hook('session-available', async ({ session }) => {
      const user = session.username;
      if (session.priority < 0 || !session.jid || session.jid.domain !== host.name) return undefined;
      let done!: () => void;
      const gate = new Promise<void>((resolve) => { done = resolve; });
      delivering.set(user, gate);
      try {
        await serial(user, async () => {
          const list = await load(user);
          if (list.length === 0) return;
          // What a sender the user has blocked since left behind is not delivered either (XEP-0191).
          const blocking = ctx.items('block-check')[0];
          const keep: OfflineMessage[] = [];
          for (const m of list) {
            const from = m.stanza.a?.from !== undefined ? tryParseJid(m.stanza.a.from) : null;
            if (!blocking || !from || !(await blocking.isBlocked(user, from))) keep.push(m);
          }
          // All or nothing: sent in one go while the session is still there, then forgotten.
          if (session.state !== 'bound' || session.presence === undefined) return;
          for (const m of keep) session.send(withDelay(m, host.name));
          await store.set(user, undefined);
        });
      } catch (err) {
        ctx.log.error({ err }, 'delivering offline messages failed');
      } finally {
        if (delivering.get(user) === gate) delivering.delete(user);
        done();
      }
      return undefined;
    });

    // Live messages wait while stored ones are going out, so the account sees them in order.
    const hold = (ev: StanzaEvent): Promise<undefined> | undefined => {
      const user = ev.to?.local;
      const gate = user ? delivering.get(user) : undefined;
      return gate?.then(() => undefined);
    };
    ctx.hook('message/bare', hold, Priority.hold);
    ctx.hook('message/full', hold, Priority.hold);

    ctx.hook('user-deleted', async ({ host: name, username }) => {
      if (name !== host.name) return undefined;
      await serial(username, () => store.set(username, undefined));
      return undefined;
    });
  },
});
