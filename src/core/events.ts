// Named events with prioritised handlers, Prosody style (design.md §4): handlers run highest
// priority first; the first one that returns something other than undefined wins.
import type { EventName, EventPayload } from './events-map.js';

export type Handler<P = unknown> = (payload: P) => unknown;

interface Entry { handler: Handler<any>; priority: number; seq: number }

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

export class EventBus {
  private readonly table = new Map<string, Entry[]>();
  private seq = 0;

  /** Add a handler; returns a function that removes it. */
  hook<E extends EventName>(event: E, handler: Handler<EventPayload<E>>, priority = 0): () => void {
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
    const r = (list[i] as Entry).handler(payload);
    if (isThenable(r)) {
      return Promise.resolve(r).then((v) => (v !== undefined ? v : runFrom(list, i + 1, payload)));
    }
    if (r !== undefined) return r;
  }
  return undefined;
}
