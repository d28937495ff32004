// Stream management: acks, and resumption of a session whose connection was lost, so a phone on
// a slow I2P tunnel loses nothing. References: XEP-0198 (urn:xmpp:sm:3).
//
// Design. Per-session state lives in `session.data` (KEY): the count of handled inbound stanzas
// (h), the count of outbound stanzas, and the queue of outbound stanzas the client has not
// acknowledged. Outbound stanzas are counted in the stream's 'c2s-outgoing' hook (at the lowest
// priority, so presence held by CSI is counted when it is really sent).
//
// When a resumable session's socket is lost without `</stream:stream>`, the stream layer asks
// ('session-interrupted') and this module keeps it bound without a socket ("hibernating"): it
// stays in the session table, its presence stays, and everything routed to it goes into the same
// queue. `<resume/>` on a new authenticated stream of the same account *transfers* the session to
// the new connection: presence, priority and every module's `data` (this state included) move,
// the new connection is bound as the old full JID and replaces the old object in the session
// table, without 'session-bound' or 'session-closed' (for everyone else nothing happened). Then
// the client's h drops what it got, and the rest is sent again, in order, then counted anew.
// Transfer, rather than moving a socket under the old object, keeps the stream layer's one
// socket per connection object invariant.
//
// If nobody resumes within `smacks_hibernation_time` seconds, the session is closed for real
// ('session-closed': contacts see it go unavailable). Whatever was not acknowledged is then
// routed again as the server: messages to the now-gone full JID fall back to the account's other
// resources or to offline storage (RFC 6121 §8.5.3.2.1, XEP-0160); iq requests are answered with
// service-unavailable; presence and carbon copies are dropped (they are stale by then). The same
// happens to unacknowledged stanzas when an enabled session ends any other way (a clean close, a
// stream error).
import { randomBytes } from 'node:crypto';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { defineModule } from '../core/modules.js';
import { Priority } from '../core/events.js';
import { StanzaError, StreamError, errorReply } from '../core/errors.js';
import type { C2SSession } from '../core/session.js';
import type { EventPayload } from '../core/events-map.js';
import { heapCost } from '../xml/heap-cost.js';

/** session.data key of the stream management state. */
const KEY = 'smacks';
/** Ask for an ack once this many stanzas are unacknowledged … */
const REQUEST_AFTER_STANZAS = 5;
/** … or this long after the oldest unacknowledged one was sent. */
const REQUEST_AFTER_MS = 30_000;
/** XEP-0198 counters wrap at 2^32. */
const WRAP = 2 ** 32;
const R = `<r xmlns='${NS.SM}'/>`;
/**
 * Estimated heap of the unacknowledged queue (src/xml/heap-cost.ts) past which the session ends
 * like one over smacks_max_queue_size: a count alone allows 500 stanzas of 256 KiB.
 */
export const MAX_QUEUE_BYTES = 8 * 1024 * 1024;

interface SmState {
  /** Resumption id, only when the client asked for resumption. */
  id: string | undefined;
  /** Inbound stanzas handled (the h we report). */
  handled: number;
  /** Outbound stanzas counted (sent, or queued while hibernating). */
  sent: number;
  /** Unacknowledged outbound stanzas, oldest first: the last one is number `sent`. */
  queue: Element[];
  /** heapCost() of each stanza in `queue`, and their sum. */
  costs: number[];
  bytes: number;
  /** An <r/> of ours is outstanding. */
  requested: boolean;
  requestTimer: NodeJS.Timeout | undefined;
  /** Set while hibernating: ends the session when it fires. */
  hibernation: NodeJS.Timeout | undefined;
  ended: boolean;
}

const failed = (condition: string, text?: string): Element =>
  x('failed', { xmlns: NS.SM }, x(condition, { xmlns: NS.STANZA_ERRORS }), ...(text ? [x('text', { xmlns: NS.STANZA_ERRORS }, text)] : []));

const stateOf = (s: C2SSession): SmState | undefined => s.data.get(KEY) as SmState | undefined;

/** A counter value from an attribute, or undefined when it is not an unsigned 32-bit integer. */
function counter(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,10}$/.test(v)) return undefined;
  const n = Number(v);
  return n < WRAP ? n : undefined;
}

export default defineModule({
  name: 'smacks',
  setup(ctx) {
    const host = ctx.host;
    // Prosody's option names. I2P tunnels are slow to come back: five minutes by default.
    // Both apply live: a reload changes them for the next session and the next stanza.
    const hibernationTime = ctx.option.live.number('smacks_hibernation_time', 300, { min: 1, max: 86400 });
    const maxQueueSize = ctx.option.live.number('smacks_max_queue_size', 500, { min: 1, integer: true });
    /** Unacknowledged stanzas being routed again (awaited when the module unloads). */
    const rerouting = new Set<Promise<void>>();
    /** Resumable sessions by resumption id (live or hibernating). */
    const resumable = new Map<string, C2SSession>();

    const clearRequest = (st: SmState): void => {
      if (st.requestTimer) clearTimeout(st.requestTimer);
      st.requestTimer = undefined;
    };

    const request = (session: C2SSession, st: SmState): void => {
      clearRequest(st);
      if (st.ended || st.hibernation || st.requested || st.queue.length === 0) return;
      st.requested = true;
      // Raw text: it passes 'c2s-outgoing' without being counted, and after what was just queued.
      session.send(R);
    };

    /** The client acknowledged h stanzas in all: forget those. */
    const acknowledge = (st: SmState, h: number): void => {
      const first = (st.sent - st.queue.length + WRAP) % WRAP; // number of the last stanza acked before
      const acked = (h - first + WRAP) % WRAP;
      if (acked > st.queue.length) {
        throw new StreamError('undefined-condition', `you acknowledged ${h} stanzas, but only ${st.sent} were sent`);
      }
      st.queue.splice(0, acked);
      for (const c of st.costs.splice(0, acked)) st.bytes -= c;
      st.requested = false;
      if (st.queue.length === 0) clearRequest(st);
    };

    /** The session is over: route again what the client never acknowledged (see the header). */
    const finish = (session: C2SSession): void => {
      const st = stateOf(session);
      if (!st || st.ended) return;
      st.ended = true;
      clearRequest(st);
      if (st.hibernation) clearTimeout(st.hibernation);
      st.hibernation = undefined;
      if (st.id !== undefined && resumable.get(st.id) === session) resumable.delete(st.id);
      session.data.delete(KEY);
      const pending = st.queue;
      st.queue = [];
      st.costs = [];
      st.bytes = 0;
      if (pending.length === 0) return;
      ctx.log.debug({ count: pending.length }, 'routing unacknowledged stanzas again');
      const done = (async () => {
        for (const stanza of pending) {
          try {
            if (stanza.name === 'message') {
              const type = stanza.attrs.type ?? 'normal';
              if ((type !== 'chat' && type !== 'normal') || stanza.getChild('received', NS.CARBONS) || stanza.getChild('sent', NS.CARBONS)) continue;
              await ctx.send(stanza);
            } else if (stanza.name === 'iq' && (stanza.attrs.type === 'get' || stanza.attrs.type === 'set')) {
              const reply = errorReply(stanza, new StanzaError('service-unavailable', 'the recipient went away'));
              if (reply) await ctx.send(reply);
            }
          } catch (err) {
            ctx.log.warn({ err }, 'routing an unacknowledged stanza again failed');
          }
        }
      })();
      rerouting.add(done);
      void done.finally(() => rerouting.delete(done));
    };

    // Not over BOSH (as Prosody): XEP-0124 acknowledges by request id already, and a BOSH session
    // outlives its HTTP requests for bosh_max_inactivity, so there is no connection to resume.
    ctx.hook('stream-features', ({ session, features }) => {
      if (session.state === 'authenticated' && session.transportKind !== 'bosh') features.append(x('sm', { xmlns: NS.SM }));
    });

    ctx.hook(`c2s-nonza/${NS.SM}:enable`, ({ session, element }) => {
      if (session.transportKind === 'bosh') {
        session.send(failed('unexpected-request', 'stream management is not available over BOSH'));
        return true;
      }
      if (stateOf(session)) {
        session.send(failed('unexpected-request', 'stream management is already enabled'));
        return true;
      }
      const resume = element.attrs.resume === 'true' || element.attrs.resume === '1';
      const st: SmState = { id: undefined, handled: 0, sent: 0, queue: [], costs: [], bytes: 0, requested: false, requestTimer: undefined, hibernation: undefined, ended: false };
      session.data.set(KEY, st);
      if (resume) {
        st.id = randomBytes(18).toString('base64url');
        resumable.set(st.id, session);
        session.send(x('enabled', { xmlns: NS.SM, id: st.id, resume: 'true', max: String(hibernationTime()) }));
      } else {
        session.send(x('enabled', { xmlns: NS.SM }));
      }
      return true;
    });

    ctx.hook(`c2s-nonza/${NS.SM}:r`, ({ session }) => {
      const st = stateOf(session);
      // <r/> before <enable/> means nothing (XEP-0198 §4): ignored.
      if (st) session.send(`<a xmlns='${NS.SM}' h='${st.handled}'/>`);
      return true;
    });

    ctx.hook(`c2s-nonza/${NS.SM}:a`, ({ session, element }) => {
      const st = stateOf(session);
      if (!st) return true;
      const h = counter(element.attrs.h);
      if (h === undefined) throw new StreamError('undefined-condition', "<a/> needs an h attribute: an unsigned 32-bit number");
      acknowledge(st, h);
      return true;
    });

    ctx.hook('c2s-stanza-handled', ({ session }) => {
      const st = stateOf(session);
      if (st) st.handled = (st.handled + 1) % WRAP;
    });

    // Lowest priority: a stanza CSI holds back is counted when it is really sent.
    ctx.hook('c2s-outgoing', ({ session, stanza }) => {
      const st = stateOf(session);
      if (!st || st.ended || (stanza.name !== 'message' && stanza.name !== 'presence' && stanza.name !== 'iq')) return undefined;
      st.sent = (st.sent + 1) % WRAP;
      st.queue.push(stanza);
      const cost = heapCost(stanza);
      st.costs.push(cost);
      st.bytes += cost;
      const maxQueue = maxQueueSize();
      if (st.queue.length > maxQueue || st.bytes > MAX_QUEUE_BYTES) {
        // Nothing can keep that much for a client that does not acknowledge: end the session;
        // finish() routes the queue again (messages reach offline storage).
        const why = st.queue.length > maxQueue ? `more than ${maxQueue} stanzas are unacknowledged` : `more than ${MAX_QUEUE_BYTES >> 20} MiB of stanzas are unacknowledged`;
        queueMicrotask(() => session.close(new StreamError('resource-constraint', why)));
        return st.hibernation ? true : undefined;
      }
      if (st.hibernation) return true; // kept for the resumption
      if (!st.requested) {
        if (st.queue.length >= REQUEST_AFTER_STANZAS) queueMicrotask(() => request(session, st));
        else if (!st.requestTimer) {
          st.requestTimer = setTimeout(() => request(session, st), REQUEST_AFTER_MS);
          st.requestTimer.unref();
        }
      }
      return undefined;
    }, Priority.last);

    ctx.hook('session-resumable', ({ session }) => {
      const st = stateOf(session);
      return st && !st.ended && st.id !== undefined ? true : undefined;
    });

    ctx.hook('session-interrupted', ({ session }) => {
      const st = stateOf(session);
      if (!st || st.ended || st.id === undefined) return undefined;
      clearRequest(st);
      st.requested = false;
      const maxSeconds = hibernationTime();
      st.hibernation = setTimeout(() => {
        ctx.log.info({ jid: session.jid?.toString() }, 'hibernating session timed out');
        session.close(); // really closes it: 'session-closed', then finish() below
        finish(session); // in case it was already replaced (same resource bound again)
      }, maxSeconds * 1000);
      st.hibernation.unref();
      ctx.log.info({ jid: session.jid?.toString(), seconds: maxSeconds }, 'connection lost; session hibernating');
      return true;
    });

    // The old connection's pipelined messages (src/core/turn.ts) are counted in its h already:
    // answer only once they are handled (archived), as an <a/> would be.
    const afterInFlight = (ev: EventPayload<'c2s-resume'>): true | Promise<true> => {
      const waiting = resumable.get(ev.element.attrs.previd ?? '')?.inFlight?.();
      return waiting ? waiting.then(() => afterInFlight(ev)) : resume(ev);
    };
    ctx.hook('c2s-resume', afterInFlight);
    const resume = ({ session: fresh, element, bindAs }: EventPayload<'c2s-resume'>): true => {
      const previd = element.attrs.previd ?? '';
      const h = counter(element.attrs.h);
      const old = resumable.get(previd);
      const st = old ? stateOf(old) : undefined;
      const jid = old?.jid;
      if (old && st && jid && host.sessions.get(jid.domain, jid.local, jid.resource) !== old) {
        // Replaced meanwhile (its resource was bound again): nothing left to resume.
        finish(old);
      }
      if (!old || !st || st.ended || !jid || old.username !== fresh.username || old.host !== fresh.host) {
        fresh.send(failed('item-not-found', 'no session to resume with this id'));
        return true;
      }
      if (h === undefined) {
        fresh.send(failed('bad-request', '<resume/> needs an h attribute: an unsigned 32-bit number'));
        return true;
      }
      try {
        acknowledge(st, h);
      } catch (err) {
        if (!(err instanceof StreamError)) throw err;
        fresh.send(failed('undefined-condition', err.text));
        return true;
      }
      if (st.hibernation) clearTimeout(st.hibernation);
      st.hibernation = undefined;
      clearRequest(st);
      st.requested = false;
      // Transfer: everything the old connection carried moves to the new one.
      fresh.presence = old.presence;
      fresh.priority = old.priority;
      fresh.rosterInterested = old.rosterInterested;
      for (const [k, v] of old.data) fresh.data.set(k, v);
      old.data.clear();
      bindAs(jid);
      host.adoptSession(fresh);
      resumable.set(previd, fresh);
      // The old object is no longer in the table, so closing it fires nothing. If its socket was
      // still open (the client noticed the loss first), it learns why.
      old.close(new StreamError('conflict', 'this session was resumed on another connection'));
      fresh.send(`<resumed xmlns='${NS.SM}' previd='${previd}' h='${st.handled}'/>`);
      // What the client did not get is sent again, in order, and counted from its h.
      const pending = st.queue;
      st.queue = [];
      st.costs = [];
      st.bytes = 0;
      st.sent = h;
      fresh.replay(pending);
      request(fresh, st);
      ctx.log.info({ jid: jid.toString(), resent: pending.length }, 'session resumed');
      return true;
    };

    // Presence goes first (normal): contacts see the session go before its messages move.
    ctx.hook('session-closed', ({ session }) => {
      finish(session);
    }, Priority.late);

    // Unloaded (server stop, or smacks removed by a config reload): a hibernating session cannot
    // outlive the module that keeps it, so it ends now as if its time had run out — what it was
    // never sent goes to the user's other resources or offline storage.
    return async () => {
      for (const s of [...resumable.values()]) {
        const st = stateOf(s);
        if (!st) continue;
        clearRequest(st);
        if (!st.hibernation) continue;
        clearTimeout(st.hibernation);
        st.hibernation = undefined;
        s.close(); // out of the session table first ('session-closed' runs finish())
        finish(s);
      }
      await Promise.all([...rerouting]);
    };
  },
});
