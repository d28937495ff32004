// Bound client sessions by account and resource, for routing (RFC 6121 §8).
import type { C2SSession } from './session.js';
import type { Jid } from '../jid/jid.js';

/**
 * An account's bound sessions: the session itself while it is the only one (the common case: a
 * Map per online account would cost each ~0.2 KB), else resource → session.
 */
type UserSessions = C2SSession | Map<string, C2SSession>;

/** The resource a registered session is bound to. */
const resourceOf = (s: C2SSession): string => (s.jid as Jid).resource;

export class SessionTable {
  /** host → username → that account's sessions */
  private readonly byHost = new Map<string, Map<string, UserSessions>>();
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
    const cur = users.get(jid.local);
    let old: C2SSession | undefined;
    if (cur === undefined) users.set(jid.local, session);
    else if (cur instanceof Map) {
      old = cur.get(jid.resource);
      cur.set(jid.resource, session);
    } else if (resourceOf(cur) === jid.resource) {
      old = cur;
      users.set(jid.local, session);
    } else {
      users.set(jid.local, new Map([[resourceOf(cur), cur], [jid.resource, session]]));
    }
    if (!old) this.count++;
    return old;
  }

  /** Forget a session (only if it is still the one registered under its JID). */
  remove(session: C2SSession): boolean {
    const jid = session.jid;
    if (!jid) return false;
    const users = this.byHost.get(jid.domain);
    const cur = users?.get(jid.local);
    if (!users || cur === undefined) return false;
    if (!(cur instanceof Map)) {
      if (cur !== session) return false;
      users.delete(jid.local);
    } else {
      if (cur.get(jid.resource) !== session) return false;
      cur.delete(jid.resource);
      if (cur.size === 1) users.set(jid.local, cur.values().next().value as C2SSession);
    }
    this.count--;
    return true;
  }

  /** The session bound to this full JID. */
  get(host: string, username: string, resource: string): C2SSession | undefined {
    const cur = this.byHost.get(host)?.get(username);
    if (cur === undefined || cur instanceof Map) return cur?.get(resource);
    return resourceOf(cur) === resource ? cur : undefined;
  }

  /** Every bound session of an account. */
  ofUser(host: string, username: string): C2SSession[] {
    const cur = this.byHost.get(host)?.get(username);
    if (cur === undefined) return [];
    return cur instanceof Map ? [...cur.values()] : [cur];
  }

  /** True when the resource is already bound for this account. */
  hasResource(host: string, username: string, resource: string): boolean {
    return this.get(host, username, resource) !== undefined;
  }

  /** Every bound session of a host (or of all hosts). */
  all(host?: string): C2SSession[] {
    const out: C2SSession[] = [];
    for (const [h, users] of this.byHost) {
      if (host !== undefined && h !== host) continue;
      for (const cur of users.values()) {
        if (cur instanceof Map) for (const s of cur.values()) out.push(s);
        else out.push(cur);
      }
    }
    return out;
  }
}

/** Sessions of an account that sent available presence, highest priority first. */
export function availableSessions(sessions: C2SSession[]): C2SSession[] {
  return sessions.filter((s) => s.presence !== undefined).sort((a, b) => b.priority - a.priority);
}
