// XMPP addresses: parsing, preparation, comparison.
// References: RFC 7622 §3.1 (parsing rules), §3.2–3.4 (parts); PRECIS in ./precis.ts.

import { JidError, LruCache, precisDomain, precisLocal, precisResource } from './precis.js';

export { JidError } from './precis.js';

// Every stanza carries addresses and most repeat, so preparation results are cached.
// Only successful preparations of inputs up to CACHE_MAX_INPUT code units are stored, which
// bounds each cache to a few MiB even under hostile input.
const CACHE_SIZE = 2048;
const CACHE_MAX_INPUT = 256;
const localCache = new LruCache<string>(CACHE_SIZE);
const domainCache = new LruCache<string>(CACHE_SIZE);
const resourceCache = new LruCache<string>(CACHE_SIZE);
const jidCache = new LruCache<Jid>(CACHE_SIZE);

function cached(cache: LruCache<string>, prep: (s: string) => string, s: string): string {
  let r = cache.get(s);
  if (r === undefined) {
    r = prep(s);
    if (s.length <= CACHE_MAX_INPUT) cache.set(s, r);
  }
  return r;
}

/** Prepare a localpart (UsernameCaseMapped); throws JidError. */
export function prepLocal(s: string): string {
  return cached(localCache, precisLocal, s);
}

/** Prepare a domainpart; throws JidError. */
export function prepDomain(s: string): string {
  return cached(domainCache, precisDomain, s);
}

/** Prepare a resourcepart (OpaqueString); throws JidError. */
export function prepResource(s: string): string {
  return cached(resourceCache, precisResource, s);
}

/** An immutable, prepared XMPP address. Compare with equals(), never with ===. */
export class Jid {
  private str: string | undefined;

  /** Parts must already be prepared; use parseJid() or Jid.of() for untrusted input. */
  constructor(
    readonly local: string,
    readonly domain: string,
    readonly resource: string = '',
  ) {}

  /** Build a JID from unprepared parts; throws JidError. */
  static of(local: string, domain: string, resource = ''): Jid {
    return new Jid(local === '' ? '' : prepLocal(local), prepDomain(domain), resource === '' ? '' : prepResource(resource));
  }

  /** This address without its resource. */
  bare(): Jid {
    return this.resource === '' ? this : new Jid(this.local, this.domain);
  }

  /** True when there is no resource. */
  isBare(): boolean {
    return this.resource === '';
  }

  /** local@domain, without the resource. */
  bareString(): string {
    return this.local === '' ? this.domain : `${this.local}@${this.domain}`;
  }

  /** The full address, as it goes in a stanza's to/from. */
  toString(): string {
    if (this.str === undefined) {
      this.str = this.resource === '' ? this.bareString() : `${this.bareString()}/${this.resource}`;
    }
    return this.str;
  }

  /** Same local, domain and resource (all three are prepared, so this is exact comparison). */
  equals(o: Jid): boolean {
    return this.local === o.local && this.domain === o.domain && this.resource === o.resource;
  }

  /** The same bare address with another resource ('' for the bare JID); throws JidError. */
  withResource(r: string): Jid {
    return new Jid(this.local, this.domain, r === '' ? '' : prepResource(r));
  }
}

function parse(s: string): Jid {
  // RFC 7622 §3.1: the resource starts at the first '/', the localpart ends at the first '@'
  // before it; the rest is the domainpart.
  const slash = s.indexOf('/');
  const head = slash === -1 ? s : s.slice(0, slash);
  let resource = '';
  if (slash !== -1) {
    const r = s.slice(slash + 1);
    if (r === '') throw new JidError('resourcepart is empty');
    resource = prepResource(r);
  }
  const at = head.indexOf('@');
  let local = '';
  if (at !== -1) {
    const l = head.slice(0, at);
    if (l === '') throw new JidError('localpart is empty');
    local = prepLocal(l);
  }
  const domain = prepDomain(head.slice(at + 1));
  return new Jid(local, domain, resource);
}

/** Parse and prepare a JID string; throws JidError when it is not a valid address. */
export function parseJid(s: string): Jid {
  let j = jidCache.get(s);
  if (j === undefined) {
    j = parse(s);
    if (s.length <= CACHE_MAX_INPUT) jidCache.set(s, j);
  }
  return j;
}

/** parseJid() that returns null instead of throwing. */
export function tryParseJid(s: string): Jid | null {
  try {
    return parseJid(s);
  } catch (e) {
    if (e instanceof JidError) return null;
    throw e;
  }
}
