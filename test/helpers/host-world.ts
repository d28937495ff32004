// One VirtualHost with its Router and session table, no sockets: for unit tests of core and of
// modules, XML in and XML out. Fake sessions record what they are sent.
import { Host } from '../../src/core/host.js';
import { Router } from '../../src/core/router.js';
import { SessionTable } from '../../src/core/sessions.js';
import { parseConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/core/log.js';
import { createMemoryBackend } from '../../src/storage/memory.js';
import type { StorageBackend } from '../../src/storage/store.js';
import { Accounts } from '../../src/storage/accounts.js';
import { parseJid, type Jid } from '../../src/jid/jid.js';
import { x, type Element } from '../../src/xml/element.js';
import type { C2SSession } from '../../src/core/session.js';

/** A bound, available client session that keeps every stanza it is sent. */
export class FakeSession implements C2SSession {
  readonly kind = 'c2s' as const;
  readonly id = Math.random().toString(36);
  readonly state = 'bound' as const;
  readonly secure = true;
  readonly transportKind = 'tcp' as const;
  presence: Element | undefined = x('presence');
  priority = 0;
  rosterInterested = false;
  readonly data = new Map<string, unknown>();
  readonly got: Element[] = [];
  constructor(readonly jid: Jid) {}
  get host(): string { return this.jid.domain; }
  get username(): string { return this.jid.local; }
  send(s: Element | string): void { if (typeof s !== 'string') this.got.push(s); }
  replay(stanzas: readonly Element[]): void { this.got.push(...stanzas); }
  close(): void {}
}

export interface HostWorld {
  host: Host;
  router: Router;
  sessions: SessionTable;
  accounts: Accounts;
  /** A FakeSession bound to the full JID `jid`, in the session table. */
  bind(jid: string): FakeSession;
  /** A further host `name` (a Component section of the config) routed beside localhost, nothing loaded. */
  addHost(name: string): Host;
}

/** Host "localhost" from the config text `cfg` (read as if from `file`), on `storage` (a fresh memory backend by default). */
export function hostWorld(cfg = 'VirtualHost "localhost"', file = 'test.cfg.lua', storage: StorageBackend = createMemoryBackend()): HostWorld {
  const config = parseConfig(cfg, file);
  const log = silentLogger();
  const sessions = new SessionTable();
  const hosts = new Map<string, Host>();
  const router = new Router({ hosts, sessions, log });
  const accounts = new Accounts(storage.keyval('localhost', 'accounts'), { bcryptCost: 4, iterations: 16 });
  const host = new Host('localhost', { config, log, storage, sessions, router, accounts, isLocal: (d) => hosts.has(d) });
  hosts.set('localhost', host);
  const bind = (jid: string): FakeSession => {
    const s = new FakeSession(parseJid(jid));
    sessions.add(s);
    return s;
  };
  const addHost = (name: string): Host => {
    const h = new Host(name, { ...host.deps, kind: 'Component', accounts: new Accounts(storage.keyval(name, 'accounts'), { bcryptCost: 4, iterations: 16 }) });
    hosts.set(name, h);
    return h;
  };
  return { host, router, sessions, accounts, bind, addHost };
}
