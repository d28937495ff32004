// Who wants which PEP notifications: the `+notify` features (XEP-0163 §4) of each full JID that
// sent a user presence with entity capabilities, learned from the disco#info its `ver` stands
// for. Answers whose sha-1 `ver` checks out are cached by `ver` and shared; any other answer
// serves only the JID that gave it. Everything here is bounded: anyone can send presence.
// References: XEP-0115 §5 (verification), §6.3 (caching), XEP-0163 §4.2 (filtered notifications).
import type { Element } from '../../xml/element.js';
import { capsVer } from './caps-hash.js';

/** The bounds of what caps can make the server remember. */
export interface InterestLimits {
  /** Bytes of verified `ver` entries cached (least recently used go first). */
  cacheBytes: number;
  /** Full JIDs remembered per user. */
  perUser: number;
  /** Bytes of all users' remembered interests. */
  totalBytes: number;
  /** disco#info queries waiting for an answer, over all users. */
  inFlight: number;
  /** `+notify` nodes kept per disco#info answer. */
  nodesPerEntity: number;
}

export const DEFAULT_INTEREST_LIMITS: Readonly<InterestLimits> = {
  cacheBytes: 1024 * 1024, perUser: 1000, totalBytes: 8 * 1024 * 1024, inFlight: 64, nodesPerEntity: 256,
};

/** Asks `jid` (on behalf of `user`) for disco#info of `node`; resolves undefined on error or timeout. */
export type Ask = (user: string, jid: string, node: string) => Promise<Element | undefined>;
/** Told when `jid` newly shows interest in `nodes` of `user`'s contacts' PEP… and of `user`'s own. */
export type OnInterest = (user: string, jid: string, nodes: readonly string[]) => void;

const NOTIFY = '+notify';

/** The `+notify` nodes a disco#info answer lists. */
function notifyNodes(query: Element, max: number): string[] {
  const out: string[] = [];
  for (const f of query.getChildren('feature')) {
    const v = f.attrs.var ?? '';
    if (v.endsWith(NOTIFY) && v.length > NOTIFY.length && v.length <= 1024 + NOTIFY.length) out.push(v.slice(0, -NOTIFY.length));
    if (out.length >= max) break;
  }
  return out;
}

const sizeOf = (key: string, nodes: readonly string[]): number => 64 + key.length * 2 + nodes.reduce((n, s) => n + 16 + s.length * 2, 0);

export class NotifyInterest {
  /** Verified ver (hash algorithm + ver) → nodes; Map order is the LRU order. */
  private readonly byVer = new Map<string, readonly string[]>();
  private cacheBytes = 0;
  /** user → full JID → the nodes it wants and the caps (hash + ver) they came from. */
  private readonly interest = new Map<string, Map<string, { nodes: readonly string[]; key: string }>>();
  private totalBytes = 0;
  /** Queries under way, by ver: one query per ver however many entities share it. */
  private readonly asking = new Map<string, Promise<readonly string[] | undefined>>();

  constructor(private readonly limits: InterestLimits, private readonly ask: Ask, private readonly onInterest: OnInterest) {}

  /** Full JIDs of `user`'s interested entities that want `node`. */
  recipients(user: string, node: string): string[] {
    const out: string[] = [];
    for (const [jid, e] of this.interest.get(user) ?? []) if (e.nodes.includes(node)) out.push(jid);
    return out;
  }

  /** What `user` remembers about `jid`. */
  nodesOf(user: string, jid: string): readonly string[] | undefined {
    return this.interest.get(user)?.get(jid)?.nodes;
  }

  /** Entries remembered, for tests and figures: [verified vers, interests, bytes]. */
  sizes(): { vers: number; cacheBytes: number; interests: number; totalBytes: number } {
    let interests = 0;
    for (const m of this.interest.values()) interests += m.size;
    return { vers: this.byVer.size, cacheBytes: this.cacheBytes, interests, totalBytes: this.totalBytes };
  }

  /** Available presence from `jid` to `user`, with its caps `<c/>` (or none). */
  async learn(user: string, jid: string, c: Element | undefined): Promise<void> {
    if (!c) return this.forget(user, jid);
    const { node, ver, hash } = c.attrs;
    if (!node || !ver || node.length > 1024 || ver.length > 128) return;
    const key = `${hash ?? ''} ${ver}`;
    const cached = this.byVer.get(key);
    if (cached) {
      this.byVer.delete(key);
      this.byVer.set(key, cached); // most recently used
      return this.set(user, jid, cached, key);
    }
    if (this.interest.get(user)?.get(jid)?.key === key) return; // the same unverified caps again
    let pending = this.asking.get(key);
    if (!pending) {
      if (this.asking.size >= this.limits.inFlight) return; // too busy: learnt at its next presence
      pending = this.query(user, jid, `${node}#${ver}`, hash, ver, key);
      this.asking.set(key, pending);
      void pending.finally(() => this.asking.delete(key));
      const nodes = await pending;
      if (nodes) this.set(user, jid, nodes, key);
      return;
    }
    // Someone else's query for the same ver: its answer counts here only if it was verified.
    await pending;
    const shared = this.byVer.get(key);
    if (shared) this.set(user, jid, shared, key);
  }

  private async query(user: string, jid: string, discoNode: string, hash: string | undefined, ver: string, key: string): Promise<readonly string[] | undefined> {
    const answer = await this.ask(user, jid, discoNode);
    if (!answer) return undefined;
    const nodes = notifyNodes(answer, this.limits.nodesPerEntity);
    if (hash === 'sha-1' && capsVer(answer) === ver) this.cache(key, nodes);
    return nodes;
  }

  private cache(key: string, nodes: readonly string[]): void {
    const size = sizeOf(key, nodes);
    if (size > this.limits.cacheBytes) return;
    this.byVer.set(key, nodes);
    this.cacheBytes += size;
    for (const [k, v] of this.byVer) {
      if (this.cacheBytes <= this.limits.cacheBytes) break;
      this.byVer.delete(k);
      this.cacheBytes -= sizeOf(k, v);
    }
  }

  /** Remember what `jid` wants (an empty list is remembered too: its caps are known). */
  private set(user: string, jid: string, nodes: readonly string[], key: string): void {
    let m = this.interest.get(user);
    const before = m?.get(jid)?.nodes;
    const grow = sizeOf(jid, nodes) - (before ? sizeOf(jid, before) : 0);
    if (!before && (m?.size ?? 0) >= this.limits.perUser) return;
    if (this.totalBytes + grow > this.limits.totalBytes) return;
    if (!m) this.interest.set(user, (m = new Map()));
    m.set(jid, { nodes, key });
    this.totalBytes += grow;
    const added = nodes.filter((n) => !before?.includes(n));
    if (added.length) this.onInterest(user, jid, added);
  }

  /** `jid` went unavailable (or its caps no longer want anything). */
  forget(user: string, jid: string): void {
    const m = this.interest.get(user);
    const e = m?.get(jid);
    if (!m || !e) return;
    m.delete(jid);
    this.totalBytes -= sizeOf(jid, e.nodes);
    if (m.size === 0) this.interest.delete(user);
  }

  /**
   * Forget every full JID at `domain` or below it, for all users: its server is gone without
   * sending unavailable (an s2s link was lost), so nothing should be routed or queued for them.
   * Returns how many entries went.
   */
  forgetDomain(domain: string): number {
    const d = domain.toLowerCase();
    let n = 0;
    for (const [user, m] of [...this.interest]) {
      for (const jid of [...m.keys()]) {
        const at = jid.slice(jid.indexOf('@') + 1).split('/')[0]!.toLowerCase();
        if (at === d || at.endsWith(`.${d}`)) {
          this.forget(user, jid);
          n++;
        }
      }
    }
    return n;
  }

  /** Forget everything `user` learnt (the account is gone). */
  forgetUser(user: string): void {
    for (const jid of [...(this.interest.get(user)?.keys() ?? [])]) this.forget(user, jid);
  }
}
