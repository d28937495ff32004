// Bound client sessions by account and resource, for routing (RFC 6121 §8).
import type { C2SSession } from './session.js';

export class SessionTable {
  /** host → username → resource → session */
  private readonly byHost = new Map<string, Map<string, Map<string, C2SSession>>>();
  private count = 0;

  /** Number of bound sessions. */
  get size(): number {
    return this.count;
  }

  /** Register a bound session; returns the session it displaces (same full JID), if any. */
  add(session: C2SSession): C2SSession | undefined {
    const jid = session.jid;
    if (!jid) throw new Error('session has no JID');
    let users = this.byHost.get(jid.domain);
    if (!users) this.byHost.set(jid.domain, (users = new Map()));
    let resources = users.get(jid.local);
    if (!resources) users.set(jid.local, (resources = new Map()));
    const old = resources.get(jid.resource);
    resources.set(jid.resource, session);
    if (!old) this.count++;
    return old;
  }

  /** Forget a session (only if it is still the one registered under its JID). */
  remove(session: C2SSession): boolean {
    const jid = session.jid;
    if (!jid) return false;
    const resources = this.byHost.get(jid.domain)?.get(jid.local);
    if (!resources || resources.get(jid.resource) !== session) return false;
    resources.delete(jid.resource);
    this.count--;
    if (resources.size === 0) this.byHost.get(jid.domain)?.delete(jid.local);
    return true;
  }

  /** The session bound to this full JID. */
  get(host: string, username: string, resource: string): C2SSession | undefined {
    return this.byHost.get(host)?.get(username)?.get(resource);
  }

  /** Every bound session of an account. */
  ofUser(host: string, username: string): C2SSession[] {
    const r = this.byHost.get(host)?.get(username);
    return r ? [...r.values()] : [];
  }

  /** True when the resource is already bound for this account. */
  hasResource(host: string, username: string, resource: string): boolean {
    return this.byHost.get(host)?.get(username)?.has(resource) ?? false;
  }

  /** Every bound session of a host (or of all hosts). */
  all(host?: string): C2SSession[] {
    const out: C2SSession[] = [];
    for (const [h, users] of this.byHost) {
      if (host !== undefined && h !== host) continue;
      for (const resources of users.values()) for (const s of resources.values()) out.push(s);
    }
    return out;
  }
}

/** Sessions of an account that sent available presence, highest priority first. */
export function availableSessions(sessions: C2SSession[]): C2SSession[] {
  return sessions.filter((s) => s.presence !== undefined).sort((a, b) => b.priority - a.priority);
}
