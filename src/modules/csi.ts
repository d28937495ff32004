// Client state indication. References: XEP-0352.
// A client that says <inactive/> (a phone with its screen off) is sent no presence updates
// until it says <active/>: they are held, only the latest per sender, and flushed in the order
// they last changed. Messages, iqs and subscription requests go through at once — those are
// what the user wants to hear about; a message with a body first flushes what was held, so
// presence and messages arrive in the order they happened. On a slow I2P tunnel this saves most of the traffic of an
// idle client with a busy roster.
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { defineModule } from '../core/modules.js';
import type { C2SSession } from '../core/session.js';
import { heapCost } from '../xml/heap-cost.js';

/** Senders whose presence one inactive session holds; past this everything held is flushed. */
const MAX_HELD = 1000;
/** … or past this much estimated heap (src/xml/heap-cost.ts): 1,000 senders × 256 KiB would be 250 MiB. */
const MAX_HELD_BYTES = 1024 * 1024;

/** Held presence by sender, with the estimated heap it takes. */
class Held extends Map<string, Element> {
  bytes = 0;
}
/** session.data key of the held presence (present only while the client is inactive). */
const HELD = 'csi.held';

/** Presence a client can wait for: availability changes. Subscriptions and errors are not held. */
function unimportant(stanza: Element): boolean {
  if (stanza.name !== 'presence') return false;
  const type = stanza.attrs.type;
  return type === undefined || type === 'unavailable';
}

/** A message with something to read (a body or a subject), not a chat state or a receipt alone. */
function wakes(stanza: Element): boolean {
  return stanza.name === 'message' && stanza.attrs.type !== 'error' && (stanza.getChild('body') !== undefined || stanza.getChild('subject') !== undefined);
}

/** Send what was held, oldest change first. The caller has taken `held` off the session first, so these pass. */
function release(session: C2SSession, held: Held): void {
  for (const p of held.values()) session.send(p);
}

export default defineModule({
  name: 'csi',
  setup(ctx) {
    ctx.hook('stream-features', ({ session, features }) => {
      if (session.state === 'authenticated') features.append(x('csi', { xmlns: NS.CSI }));
    });

    ctx.hook(`c2s-nonza/${NS.CSI}:inactive`, ({ session }) => {
      if (!session.data.has(HELD)) session.data.set(HELD, new Held());
      return true;
    });

    ctx.hook(`c2s-nonza/${NS.CSI}:active`, ({ session }) => {
      const held = session.data.get(HELD) as Held | undefined;
      session.data.delete(HELD);
      if (held) release(session, held);
      return true;
    });

    ctx.hook('c2s-outgoing', ({ session, stanza }) => {
      const held = session.data.get(HELD) as Held | undefined;
      if (!held) return undefined;
      if (!unimportant(stanza)) {
        // A message the user will read wakes the client anyway: send the held presence first,
        // so it arrives in order and the roster is current when the user looks (as Prosody does).
        if (held.size > 0 && wakes(stanza)) {
          session.data.delete(HELD);
          release(session, held);
          session.data.set(HELD, new Held());
        }
        return undefined;
      }
      const from = stanza.attrs.from ?? '';
      // Re-inserted, so the order of flushing is the order of the latest changes.
      const previous = held.get(from);
      if (previous) held.bytes -= heapCost(previous);
      held.delete(from);
      held.set(from, stanza);
      held.bytes += heapCost(stanza);
      if (held.size >= MAX_HELD || held.bytes > MAX_HELD_BYTES) {
        session.data.delete(HELD);
        release(session, held);
        session.data.set(HELD, new Held());
      }
      return true;
    });
  },
});
