// Catches leaks in tests: any DNS call, and any TCP connection to something other than an
// allowed 127.0.0.1:port, is recorded as a violation and blocked (the caller gets an error, so
// nothing actually leaves). With darknet_only, Clove must make neither (docs/architecture.md, house rule 7).
//
// Covered: every lookup*/resolve*/reverse function of `dns` and `dns.promises`, the methods of
// both Resolver classes, net.connect / net.createConnection, and Socket.prototype.connect (which
// tls.connect and net.connect both end in). ESM named imports are re-synced after patching.
import dns from 'node:dns';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
import { afterEach, beforeEach } from 'vitest';

/** One forbidden call: what was asked, through which API. */
export interface Violation {
  kind: 'dns' | 'tcp';
  api: string;
  target: string;
}

/** An endpoint code under test may connect to (host defaults to 127.0.0.1). */
export interface Allowed {
  host?: string;
  port: number;
}

/** Violations since the last start(); cleared by start(). */
export const violations: Violation[] = [];

interface Patch { obj: Record<string, unknown>; key: string; own: boolean; orig: unknown }
const patches: Patch[] = [];
const allowed = new Set<string>();
let bypassDepth = 0;
let entryApi: string | undefined;

const DNS_NAME = /^(lookup|resolve|reverse)/;

function blocked(what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`leak-guard: ${what} blocked`), { code: 'ELEAKGUARD' });
}

function patch(obj: object, key: string, make: (orig: (...a: unknown[]) => unknown) => unknown): void {
  const o = obj as Record<string, unknown>;
  const orig = o[key];
  if (typeof orig !== 'function') return;
  patches.push({ obj: o, key, own: Object.hasOwn(o, key), orig });
  o[key] = make(orig as (...a: unknown[]) => unknown);
}

/** Patch the DNS functions of `obj`: callback style answers the callback with an error; promise style rejects. */
function guardDns(obj: object, label: string, style: 'callback' | 'promise', keys?: string[]): void {
  const names = keys ?? Object.getOwnPropertyNames(obj).filter((k) => DNS_NAME.test(k));
  for (const key of names) {
    patch(obj, key, (orig) => function (this: unknown, ...args: unknown[]) {
      // lookup() of an IP literal is answered inside Node without a query (server.listen
      // on '127.0.0.1' does this), so it is no leak.
      if (bypassDepth > 0 || (key === 'lookup' && typeof args[0] === 'string' && net.isIP(args[0]) !== 0)) return orig.apply(this, args);
      const target = typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0]);
      violations.push({ kind: 'dns', api: `${label}.${key}`, target });
      const err = blocked(`DNS ${label}.${key}(${target})`);
      if (style === 'promise') return Promise.reject(err);
      const cb = [...args].reverse().find((a) => typeof a === 'function') as ((e: Error) => void) | undefined;
      if (cb) process.nextTick(cb, err);
      return {};
    });
  }
}

/** The host and port a Socket.prototype.connect call asks for, or undefined for a Unix socket path. */
function endpointOf(args: unknown[]): { host: string; port: number } | undefined {
  // net.connect passes its already-normalised [options, cb] array as the first argument.
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (first !== null && typeof first === 'object') {
    const o = first as { host?: string; port?: number | string; path?: string };
    if (o.path !== undefined && o.port === undefined) return undefined;
    return { host: o.host ?? 'localhost', port: Number(o.port) };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return undefined; // (path, cb)
  return { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: Number(first) };
}

function guardNet(): void {
  patch(net.Socket.prototype, 'connect', (orig) => function (this: net.Socket, ...args: unknown[]) {
    const ep = endpointOf(args);
    const api = entryApi ?? 'Socket.connect';
    if (bypassDepth > 0 || ep === undefined || allowed.has(`${ep.host}:${ep.port}`)) return orig.apply(this, args);
    violations.push({ kind: 'tcp', api, target: `${ep.host}:${ep.port}` });
    const err = blocked(`TCP ${api}(${ep.host}:${ep.port})`);
    process.nextTick(() => this.destroy(err));
    return this;
  });
  for (const key of ['connect', 'createConnection']) {
    patch(net, key, (orig) => function (this: unknown, ...args: unknown[]) {
      const outer = entryApi;
      entryApi = `net.${key}`;
      try {
        return orig.apply(this, args);
      } finally {
        entryApi = outer;
      }
    });
  }
}

/** Start guarding; only TCP connections to `allow` (127.0.0.1 unless a host is given) pass. */
export function start(allow: readonly Allowed[] = []): void {
  if (patches.length > 0) stop();
  violations.length = 0;
  allowed.clear();
  for (const a of allow) allowed.add(`${a.host ?? '127.0.0.1'}:${a.port}`);
  guardDns(dns, 'dns', 'callback');
  guardDns(dns.promises, 'dns.promises', 'promise');
  const methods = (proto: object): string[] => {
    const out = new Set<string>();
    for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const k of Object.getOwnPropertyNames(p)) if (DNS_NAME.test(k)) out.add(k);
    }
    return [...out];
  };
  guardDns(dns.Resolver.prototype, 'dns.Resolver', 'callback', methods(dns.Resolver.prototype));
  guardDns(dns.promises.Resolver.prototype, 'dns.promises.Resolver', 'promise', methods(dns.promises.Resolver.prototype));
  guardNet();
  syncBuiltinESMExports();
}

/** Allow one more endpoint while guarding (for servers started after start()). */
export function allow(a: Allowed): void {
  allowed.add(`${a.host ?? '127.0.0.1'}:${a.port}`);
}

/** Restore everything; returns the violations seen (they stay in `violations` too). */
export function stop(): Violation[] {
  while (patches.length > 0) {
    const p = patches.pop() as Patch;
    if (p.own) p.obj[p.key] = p.orig;
    else delete p.obj[p.key];
  }
  syncBuiltinESMExports();
  return [...violations];
}

/** Throw, listing every violation, if there were any. */
export function assertNoLeaks(): void {
  if (violations.length === 0) return;
  throw new Error(`leak-guard: ${violations.length} forbidden call(s):\n${violations.map((v) => `  ${v.kind} ${v.api} ${v.target}`).join('\n')}`);
}

/** Run `fn` unguarded: for the test's own plumbing (the SOCKS test proxy's upstream connections). */
export function bypass<T>(fn: () => T): T {
  bypassDepth++;
  try {
    return fn();
  } finally {
    bypassDepth--;
  }
}

/** Guard every test of the current suite; a test with a violation fails in afterEach. */
export function useLeakGuard(allowedEndpoints: () => readonly Allowed[]): void {
  beforeEach(() => start(allowedEndpoints()));
  afterEach(() => {
    stop();
    assertNoLeaks();
  });
}
