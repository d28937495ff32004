// Named events with prioritised handlers, Prosody style (docs/architecture.md, Events): handlers run highest
// priority first; the first one that returns something other than undefined wins.
import type { EventName, EventPayload } from './events-map.js';
import { turnToWait } from './turn.js';

export type Handler<P = unknown> = (payload: P) => unknown;

/**
 * Named hook priorities, highest first (Prosody's convention: policy runs before the handlers,
 * the default action after them). Modules hook with these names, never with bare numbers, so
 * the order of the whole server can be read here. Equal priorities run in load order.
 */
export const Priority = {
  /** Refuses or ends a stanza before anyone else sees it (blocking, XEP-0191). */
  policy: 100,
  /** Holds a stanza back so it keeps its order (live messages while offline ones go out). */
  hold: 20,
  /** Archives a stanza and stamps it with its archive id before it is copied or delivered (MAM). */
  archive: 15,
  /** Changes or copies a stanza before the usual handler (avatar hash, carbons), or answers a special case of a general handler (adhoc's disco nodes). */
  early: 10,
  /** The usual handler; the default. */
  normal: 0,
  /** After the usual handlers have seen it (smacks re-routes after presence has gone out). */
  late: -10,
  /** The default action when nothing else took it (delivery to sessions, presence handling). */
  fallback: -100,
  /** Last of all: sees only what every other handler let pass (smacks counts what is written). */
  last: -1000,
} as const;

/** One of the named priorities. */
export type PriorityLevel = (typeof Priority)[keyof typeof Priority];

interface Entry { handler: Handler<any>; priority: number; seq: number }

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

export class EventBus {
  private readonly table = new Map<string, Entry[]>();
  private seq = 0;

  /** Add a handler; returns a function that removes it. */
  hook<E extends EventName>(event: E, handler: Handler<EventPayload<E>>, priority: number = Priority.normal): () => void {
    const list = this.table.get(event) ?? [];
    const entry: Entry = { handler, priority, seq: this.seq++ };
    list.push(entry);
    // Stable: equal priorities keep registration order.
    list.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    this.table.set(event, list);
    return () => {
      const cur = this.table.get(event);
      if (!cur) return;
      const i = cur.indexOf(entry);
      if (i >= 0) cur.splice(i, 1);
      if (cur.length === 0) this.table.delete(event);
    };
  }

  /** True when at least one handler listens to this event. */
  has(event: string): boolean {
    return this.table.has(event);
  }

  /**
   * Run the handlers in order; resolves to the first non-undefined result (handlers may be
   * async). Stays synchronous as long as handlers are, so the hot path pays no promise cost.
   */
  fire<E extends EventName>(event: E, payload: EventPayload<E>): unknown | Promise<unknown> {
    const list = this.table.get(event);
    if (!list) return undefined;
    return runFrom(list.slice(), 0, payload);
  }
}

function runFrom(list: Entry[], start: number, payload: unknown): unknown | Promise<unknown> {
  for (let i = start; i < list.length; i++) {
    const entry = list[i] as Entry;
    // A pipelined client message (src/core/turn.ts): handlers after the archive's run only once
    // the stream's previous stanza has settled, so what they do keeps the sent order.
    if (entry.priority < Priority.archive) {
      const wait = turnToWait(payload);
      if (wait) return wait.then(() => runFrom(list, i, payload));
    }
    const r = entry.handler(payload);
    if (isThenable(r)) {
      return Promise.resolve(r).then((v) => (v !== undefined ? v : runFrom(list, i + 1, payload)));
    }
    if (r !== undefined) return r;
  }
  return undefined;
}
