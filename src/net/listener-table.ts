// The listener table of a node:tls socket, made compact once its listeners are in place.
//
// node:events starts each emitter's table as `{ __proto__: null }`, which V8 keeps as a
// dictionary: ~0.45 KB for the seven event names a TLS connection ends up with. node:stream
// gives its own sockets an ordinary object literal instead, which V8 keeps in fast mode (~0.1 KB
// for the same names), and node:events works with either. Each idle TLS session holds one of
// these tables for its whole life.
import type { EventEmitter } from 'node:events';

/** Re-make `emitter`'s listener table as an ordinary object with the same entries. */
export function compactListenerTable(emitter: EventEmitter): void {
  const e = emitter as unknown as { _events?: Record<string | symbol, unknown> };
  if (e._events && Object.getPrototypeOf(e._events) === null) e._events = Object.assign({}, e._events);
}
