// Storage latency for the operator's metrics: a backend whose stores report how long each
// asynchronous call took, by store shape. main wraps the configured backend once; stores and
// modules see the same interfaces as before.
import type { StorageBackend } from './store.js';

/** The store shapes, as metrics label them. */
export type StoreShape = 'keyval' | 'map' | 'archive';
/** Told the seconds each store call took (resolved or failed). */
export type StoreTimer = (shape: StoreShape, seconds: number) => void;

/** `backend` with every store call timed into `observe`. */
export function timedBackend(backend: StorageBackend, observe: StoreTimer): StorageBackend {
  // One wrapper per store object, so a backend that hands out the same store keeps doing so.
  const wrapped = new WeakMap<object, object>();
  const wrap = <S extends object>(store: S, shape: StoreShape): S => {
    let w = wrapped.get(store);
    if (!w) wrapped.set(store, (w = timedStore(store, shape, observe)));
    return w as S;
  };
  return {
    keyval: (host, store) => wrap(backend.keyval(host, store), 'keyval'),
    map: (host, store) => wrap(backend.map(host, store), 'map'),
    archive: (host, store, limits) => wrap(backend.archive(host, store, limits), 'archive'),
    close: () => backend.close(),
    ...(backend.journalWrites ? { journalWrites: () => backend.journalWrites!() } : {}),
  };
}

function timedStore<S extends object>(store: S, shape: StoreShape, observe: StoreTimer): S {
  // One timed wrapper per method, made on first use: store calls are on the message path, so a
  // new closure per property access (per append) would be garbage for nothing.
  const timed = new Map<PropertyKey, { of: unknown; fn: (...args: unknown[]) => unknown }>();
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const known = timed.get(prop);
      if (known?.of === value) return known.fn;
      const fn = (...args: unknown[]): unknown => {
        const started = performance.now();
        const result: unknown = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        const done = (): void => observe(shape, (performance.now() - started) / 1000);
        result.then(done, done);
        return result;
      };
      timed.set(prop, { of: value, fn });
      return fn;
    },
  });
}
