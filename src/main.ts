// Composition root: config → storage → hosts and modules → certificates → listeners.
// Everything Clove is made of is wired here, in plain sight.
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import type { Config } from './config/config.js';
import type { LogTarget, SslOptions } from './config/schema.js';
import { createLogger, type Logger } from './core/log.js';
import { Host } from './core/host.js';
import { Router } from './core/router.js';
import { SessionTable } from './core/sessions.js';
import { ServerError, StreamError } from './core/errors.js';
import { createFileBackend } from './storage/file.js';
import { createMemoryBackend } from './storage/memory.js';
import { sqlSettings, type SqlSettings } from './config/sql.js';
import type { JournalWrites, StorageBackend } from './storage/store.js';
import { Accounts } from './storage/accounts.js';
import { certPaths, loadOrCreateCert } from './net/certs.js';
import { listenAll, type Listening } from './net/listener.js';
import { C2SConnection } from './stream/c2s.js';
import { ConnectionAdmission, refuseConnection } from './stream/admission.js';
import { NS } from './xml/ns.js';
import { rateLimits } from './net/rate-limit.js';
import { noteSha1OnlyAccounts } from './stream/sasl.js';
import { setUpAuthDefences } from './sasl/defences.js';
import { MODULE_IMPORTS } from './modules/catalog.js';
import { importModules, type ImportedModules, type ModuleEntry } from './core/module-import.js';
import { S2SManager } from './stream/s2s-manager.js';
import { S2SIn } from './stream/s2s-in.js';
import { DialbackKeys } from './stream/dialback.js';
import { createConnector } from './net/connect.js';
import { certificateCanProve } from './net/darknet-route.js';
import { reloadFromFile, type ReloadOutcome, type ReloadReport } from './core/reload.js';
import type { Connector } from './net/connector.js';
import type { ModuleDefinition } from './core/modules.js';
import { ComponentLinks } from './component/links.js';
import { ComponentListener } from './component/listener.js';
import { ComponentDisco } from './component/parents.js';
import { externalComponentModule } from './component/external.js';
import { modulesFor } from './component/modules.js';
import './modules/http-ops.js'; // the 'ops-page' item kind
import { timedBackend } from './storage/timed.js';
import { Metrics, type LinkView } from './ops/metrics.js';
import { History } from './ops/history.js';
import { opsRoutes, type EnabledPages } from './ops/pages.js';
import type { HttpRoute } from './core/http.js';
import { HttpService } from './net/http/service.js';
import { baseUrl, checkExternalUrls } from './net/http/url.js';
import { admitClient } from './stream/web/web-client.js';
import { webClients } from './stream/web/endpoints.js';
import { BOSH_PATH, BOSH_REL, WEBSOCKET_PATH, WEBSOCKET_REL, servesWeb } from './modules/web-clients.js';

export interface StartOptions {
  config: Config;
  /** Use this logger instead of the config's `log` (tests). */
  log?: Logger;
  /** Use this storage instead of the config's (tests). */
  storage?: StorageBackend;
  /** Use this outbound connector instead of the real one (tests). */
  connector?: Connector;
  /**
   * Test seam: module definitions added to Clove's own, by name (e.g. a test component for
   * `Component "x" "name"`); one with the name of a shipped module replaces it (the mam module
   * built with a clock the test moves). Never set in production: src/ ships no test module.
   */
  extraModules?: readonly ModuleDefinition[];
}

export interface RunningServer {
  /** The config in force (replaced by a reload). */
  readonly config: Config;
  /** The config the server started with. */
  readonly startConfig: Config;
  readonly log: Logger;
  readonly hosts: ReadonlyMap<string, Host>;
  readonly sessions: SessionTable;
  readonly storage: StorageBackend;
  readonly c2s: readonly Listening[];
  readonly s2s: readonly Listening[];
  /** The first c2s port (handy with port 0 in tests). */
  readonly c2sPort: number;
  /** The first s2s port, 0 when s2s listens nowhere. */
  readonly s2sPort: number;
  /** The first XEP-0114 component port, 0 while no external component is configured. */
  readonly componentPort: number;
  /** The first HTTP port, 0 while nothing is served over HTTP (the listener opens with the first route). */
  readonly httpPort: number;
  /** The HTTP service: routes of every host, and `upgrade(path, handler)` for WebSocket (src/net/http/service.ts). */
  readonly http: HttpService;
  /** SHA-256 fingerprint of each host's certificate. */
  readonly fingerprints: ReadonlyMap<string, string>;
  /** Reopen log files (SIGHUP, for logrotate). */
  reopenLogs(): void;
  /** A reload's `log`: new levels for the same destinations; false when destinations changed. */
  setLogLevels(targets: readonly LogTarget[]): boolean;
  /** Event-loop delay (ms) since the last reset, memory and session counts. */
  stats(reset?: boolean): ServerStats;
  /** Close every stream with `system-shutdown`, stop listening and flush storage. */
  stop(reason?: string): Promise<void>;
  /** Resolves once the server has stopped (by stop(), a signal or an administrator's command). */
  readonly stopped: Promise<void>;
  /**
   * Apply a re-read config without dropping sessions: hosts added or removed, every host's
   * certificate re-read from disk, per-host options; modules hear 'config-reloaded'. A host that
   * fails to come up is reported and skipped.
   */
  apply(next: Config, changed?: string[]): Promise<ReloadReport>;
  /** Re-read the config file and apply it (SIGHUP, the admin command); one reload at a time. */
  reloadConfig(via: string): Promise<ReloadOutcome>;
}

export interface ServerStats {
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  rssKiB: number;
  heapUsedKiB: number;
  /** V8's new space (both semi-spaces): 2048 at start, at most gc_young_generation_max / 1024. */
  youngGenerationKiB: number;
  connections: number;
  sessions: number;
  /** Archive journal writes and their entries so far (file storage only). */
  journalWrites?: JournalWrites;
}

/**
 * The storage backend `config` names: files under data_path, PostgreSQL (connected and its
 * tables brought up to date, or a ServerError naming the database, never the password), or memory.
 */
export async function openStorage(config: Config): Promise<StorageBackend> {
  const kind = config.get<string>('storage');
  if (kind === 'memory') return createMemoryBackend();
  const limits = { keyBytes: config.get<number>('storage_pending_bytes_per_user'), totalBytes: config.get<number>('storage_pending_bytes') };
  if (kind !== 'sql') return createFileBackend(config.get<string>('data_path'), undefined, limits);
  const sql = sqlSettings(config);
  try {
    // The SQL backend and its driver (pg or better-sqlite3) load only for storage = "sql".
    const { openSqlBackend } = await import('./storage/sql/backend.js');
    return await openSqlBackend(sql, limits);
  } catch (e) {
    throw new ServerError('storage', `cannot open SQL storage ${sqlWhere(sql)}: ${(e as Error).message}`);
  }
}

/** "PostgreSQL database user@host:port/database" or "SQLite database /path", for messages (never the password). */
function sqlWhere(sql: SqlSettings): string {
  if (sql.driver === 'SQLite3') return `SQLite database ${sql.database}`;
  return `PostgreSQL database ${sql.username ?? '(default user)'}@${sql.host ?? 'localhost'}${sql.port !== undefined ? `:${sql.port}` : ''}/${sql.database}`;
}

/** Start a Clove server from a loaded config. */
export async function startServer(opts: StartOptions): Promise<RunningServer> {
  // The config in force: replaced by reload(); per-host lookups below read it at call time.
  let config = opts.config;
  let flushLog = (): void => {};
  let reopenLogs = (): void => {};
  // A logger given by the caller (tests) has one level and no destinations of ours.
  let setLogLevels = (targets: readonly LogTarget[]): boolean => {
    const order = ['debug', 'info', 'warn', 'error'];
    const lowest = targets.map((t) => t.level).sort((a, b) => order.indexOf(a) - order.indexOf(b))[0];
    if (lowest && log) log.level = lowest;
    return true;
  };
  let log = opts.log;
  if (!log) {
    // syslog: socket from `syslog_socket`; stop() calls flushLog last, which also ends the logger(1) child.
    const made = createLogger(config.get<LogTarget[]>('log'), { syslogSocket: config.get<string>('syslog_socket') });
    log = made.log;
    flushLog = () => { made.flush(); made.close(); };
    reopenLogs = made.reopen;
    setLogLevels = made.setLevels;
    for (const w of made.warnings) log.warn(w);
  }
  for (const w of config.warnings) log.warn(w);
  checkExternalUrls(config); // a loopback or malformed public URL stops the start with file:line

  const sessions = new SessionTable();
  const hosts = new Map<string, Host>();
  // The operator's metrics (src/ops, docs/metrics.md): always counted, served by the modules
  // http_openmetrics and http_status. The sources are read when scraped, after start-up.
  const metrics = new Metrics({
    storageBackend: config.get<string>('storage'),
    sessionsByHost: () => [...hosts.values()].filter((h) => h.kind === 'VirtualHost').map((h) => [h.name, sessions.all(h.name).length] as const),
    c2sConnections: () => open.size,
    s2sLinks: () => s2sLinks(),
  });
  const history = new History(metrics);
  const storage = timedBackend(opts.storage ?? (await openStorage(config)), metrics.storeTimer);
  if (!opts.storage && config.get<string>('storage') === 'sql') log.info(`storage: ${sqlWhere(sqlSettings(config))}`);
  /** Hosts a reload removed: their domain stays ours for routing (never remote) until re-added. */
  const retired = new Set<string>();
  const router = new Router({ hosts, sessions, log, retired });
  // Components: external ones meet their XEP-0114 connections through `links`; every component
  // is listed in its parent host's disco#items.
  const links = new ComponentLinks();
  // Module names → their code, imported when a host's config enables them (src/modules/catalog.ts).
  const registry = new Map<string, ModuleEntry>([...MODULE_IMPORTS, ['component', externalComponentModule(links)], ...(opts.extraModules ?? []).map((m) => [m.name, m] as const)]);
  const componentDisco = new ComponentDisco();
  const components = new ComponentListener({ config: () => config, log, links, route: (stanza, origin) => router.route(stanza, origin) });
  /** Modules of a host from `cfg`, their code imported, their warnings and errors logged. */
  const hostModules = async (name: string, cfg: Config): Promise<ImportedModules> => {
    const { load, warnings, errors } = modulesFor(cfg, name, registry);
    for (const w of warnings) log.warn(w);
    for (const e of errors) log.error(e);
    return importModules(load, registry);
  };
  if (config.get<string>('authentication') === 'internal_hashed' && config.lookup('authentication')?.value === 'internal_plain') {
    log.info('authentication = "internal_plain": Clove stores passwords hashed (SCRAM keys), never in plain text');
  }

  const auth = await setUpAuthDefences(config, log);
  const tlsContexts = new Map<string, SecureContext>();
  const fingerprints = new Map<string, string>();
  // `limits`, read at start (a reload does not change them): a bad value stops the start with file:line.
  const rates = rateLimits(config);
  const keys = new DialbackKeys(config.get<string | undefined>('dialback_secret'));
  const remote = new S2SManager({
    hosts, log, storage, keys,
    connector: opts.connector ?? createConnector(),
    settings: (h) => ({
      // darknet_only defaults to true; the proxy is used for .i2p names even with the darknet module off.
      darknet: { only: config.get<boolean>('darknet_only', h), proxyHost: config.get<string>('darknet_socks5_host', h), proxyPort: config.get<number>('darknet_socks5_port', h) },
      requireEncryption: config.get<boolean>('s2s_require_encryption', h),
      secureAuth: config.get<boolean>('s2s_secure_auth', h),
      connectTimeout: config.get<number>('s2s_connect_timeout'),
      handshakeTimeout: config.get<number>('s2s_timeout'),
      sendDeadline: config.get<number>('s2s_send_deadline'),
      idleTimeout: config.get<number>('s2s_idle_timeout'),
      stanzaSizeLimit: config.get<number>('s2s_stanza_size_limit'),
      rateLimit: rates.s2sout,
    }),
    inboundUp: (local, peer) => inbound.connections().some((s) => !s.closed && s.verified.has(`${peer} ${local}`)),
    tally: metrics.tally,
  });
  /** Every s2s link for the metrics: outbound ones by their route, inbound ones by the route back to their first verified domain. */
  const s2sLinks = (): LinkView[] => [
    ...remote.linkStats().map((l) => ({ direction: 'out' as const, ...l })),
    ...inbound.connections().filter((s) => !s.closed).map((s): LinkView => {
      const first = s.verified.values().next().value;
      const [peer, local] = first ? first.split(' ') as [string, string] : [];
      return { direction: 'in', route: peer && local ? remote.routeLabel(local, peer) : 'pending', state: first ? 'ready' : 'pending', queuedStanzas: 0, queuedBytes: 0 };
    }),
  ];
  /** Certificate and TLS context for a host, from `cfg`; the running maps change only on success. */
  const loadCert = async (name: string, cfg: Config): Promise<{ changed: boolean }> => {
    const ssl = cfg.get<SslOptions | undefined>('ssl', name);
    const paths = certPaths(name, ssl, cfg.get<string>('certificates'));
    const cert = await loadOrCreateCert(name, paths, { explicit: ssl?.key !== undefined });
    const context = createSecureContext({ key: cert.key, cert: cert.cert, minVersion: 'TLSv1.2' });
    const changed = fingerprints.get(name) !== cert.fingerprint;
    tlsContexts.set(name, context);
    fingerprints.set(name, cert.fingerprint);
    if (changed) log.info({ host: name, certificate: paths.certificate, generated: cert.generated }, `certificate SHA-256 fingerprint ${cert.fingerprint}`);
    return { changed };
  };
  /** Build a host from `cfg`, load its modules and certificate; it is routable once this returns. */
  const addHost = async (name: string, cfg: Config): Promise<Host> => {
    const accounts = new Accounts(storage.keyval(name, 'accounts'), { bcryptCost: cfg.get<number>('clove_bcrypt_cost', name), storeBcrypt: cfg.get<boolean>('clove_store_bcrypt', name), hashing: auth.hashing, fakeSaltKey: auth.fakeSaltKey });
    const kind = cfg.hosts.find((h) => h.name === name)?.kind ?? 'VirtualHost';
    const host = new Host(name, { config: cfg, log, storage, sessions, router, accounts, isLocal: (d) => hosts.has(d), remote, kind });
    if (kind === 'VirtualHost') noteSha1OnlyAccounts(host); // says at start-up when imported accounts hold SCRAM-SHA-256 back
    try {
      const wanted = await hostModules(name, cfg);
      await host.load(wanted.defs, wanted.registry); // `depends` pulls in what a module needs
      await loadCert(name, cfg);
    } catch (err) {
      await host.unload();
      tlsContexts.delete(name);
      fingerprints.delete(name);
      throw err;
    }
    // An administrator's shutdown command (XEP-0133) stops the server as SIGTERM does.
    host.events.hook('server-shutdown-requested', ({ reason }) => { void running.stop(reason); return true; });
    host.events.hook('config-reload-requested', ({ via }) => running.reloadConfig(via));
    hosts.set(name, host);
    retired.delete(name);
    return host;
  };
  // VirtualHosts and Components alike (Prosody's hosts): a component's certificate follows the
  // same rule as a host's (its own ssl, or certificates/<domain>.crt, generated when absent).
  const enabledHosts = (cfg: Config): string[] => [...cfg.virtualHosts(), ...cfg.components().map((c) => c.name)].filter((h) => cfg.get<boolean>('enabled', h) !== false);
  for (const name of enabledHosts(config)) await addHost(name, config);
  componentDisco.sync(hosts);

  const open = new ConnectionAdmission<C2SConnection>('client', () => ({
    maxConnections: config.get<number>('c2s_max_connections'),
    maxUnauthenticated: config.get<number>('c2s_max_unauthenticated'),
  }));
  const c2sOpts = {
    hosts,
    log,
    tls: (h: string) => tlsContexts.get(h),
    requireEncryption: (h: string) => config.get<boolean>('c2s_require_encryption', h),
    stanzaSizeLimit: config.get<number>('c2s_stanza_size_limit'),
    authTimeout: config.get<number>('c2s_timeout'),
    auth: auth.guard,
    tally: metrics.tally,
    onAuthenticated: (c: C2SConnection) => open.authenticated(c),
  };
  const onClient = (socket: Socket): void => {
    const conn = admitClient({ c2s: c2sOpts, admission: open, rate: rates.c2s, log, tally: metrics.tally }, socket);
    if (typeof conn === 'string') refuseConnection(socket, conn);
  };
  const c2s = await listenAll('c2s', config.get<string[] | undefined>('c2s_interfaces') ?? config.get<string[]>('interfaces'), config.get<number[]>('c2s_ports'), onClient);
  for (const l of c2s) log.info(`c2s listening on ${l.address}:${l.port}`);

  const inbound = new ConnectionAdmission<S2SIn>('server', () => ({
    maxConnections: config.get<number>('s2s_max_connections'),
    maxUnauthenticated: config.get<number>('s2s_max_unauthenticated'),
  }));
  const s2sOpts = {
    hosts, log, keys,
    tls: (h: string) => tlsContexts.get(h),
    requireEncryption: (h: string) => config.get<boolean>('s2s_require_encryption', h),
    secureAuth: (h: string, peer?: string) => h !== '' && config.get<boolean>('s2s_secure_auth', h) && (peer === undefined || certificateCanProve(peer)),
    stanzaSizeLimit: config.get<number>('s2s_stanza_size_limit'),
    authTimeout: config.get<number>('s2s_timeout'),
    // Twice s2s_idle_timeout: the sending side closes an idle stream first; this is the backstop
    // for peers that never do.
    idleTimeout: () => 2 * config.get<number>('s2s_idle_timeout'),
    verify: (local: string, peer: string, streamId: string, key: string) => remote.verify(local, peer, streamId, key),
    onVerified: (s: S2SIn) => inbound.authenticated(s),
  };
  const onServer = (socket: Socket): void => {
    const refused = inbound.refusal();
    if (refused) {
      const n = inbound.countRefusal();
      if (n) log.warn({ connections: inbound.size, refused: n }, `s2s connections refused: ${refused}`);
      return refuseConnection(socket, refused, NS.SERVER);
    }
    const stream = new S2SIn(socket, s2sOpts, (s) => {
      inbound.removed(s);
      remote.inboundEnded(s);
    });
    stream.limitRate(rates.s2sin);
    stream.countInto(metrics.tally, 's2s');
    inbound.added(stream);
  };
  const s2s = await listenAll('s2s', config.get<string[] | undefined>('s2s_interfaces') ?? config.get<string[]>('interfaces'), config.get<number[]>('s2s_ports'), onServer);
  for (const l of s2s) log.info(`s2s listening on ${l.address}:${l.port}`);
  await components.ensure();
  // HTTP: serves the `http-route` items of every host; opens once there is one (or an upgrade handler).
  const http = new HttpService({ config: () => config, log, hosts: () => hosts.values() });

  /** The operator's pages the loaded modules turned on (http_openmetrics, http_status), read per request. */
  const enabledPages = (): EnabledPages => {
    const on: EnabledPages = {};
    for (const host of hosts.values()) {
      for (const p of host.items('ops-page')) {
        if (p.page === 'metrics') on.metrics ??= { allow: p.allow };
        else on.status ??= { allowI2p: p.allowI2p };
      }
    }
    return on;
  };
  const routes = opsRoutes({
    metrics, history, enabled: enabledPages,
    login: {
      accounts: (name) => { const h = hosts.get(name); return h?.kind === 'VirtualHost' ? h.accounts : undefined; },
      isAdmin: (jid) => {
        const host = jid.slice(jid.lastIndexOf('@') + 1);
        return [...config.get<string[]>('admins'), ...(hosts.has(host) ? config.get<string[]>('admins', host) : [])].some((a) => a.toLowerCase() === jid);
      },
      guard: auth.guard,
      log,
      failed: (condition) => metrics.tally.authFailure('HTTP-Basic', condition),
    },
  });
  /** Serve each operator's page while its module is loaded (an HTTP listener opens only for what is served). */
  const served = new Map<HttpRoute, () => void>();
  const syncOpsRoutes = (): void => {
    const on = enabledPages();
    for (const [route, wanted] of [[routes.metrics, on.metrics !== undefined], [routes.status, on.status !== undefined]] as const) {
      if (wanted && !served.has(route)) served.set(route, http.route(route));
      if (!wanted) { served.get(route)?.(); served.delete(route); }
    }
  };
  syncOpsRoutes();
  // Web clients: the c2s stream over WebSocket and BOSH, for hosts that load the module (src/stream/web/).
  const web = webClients(http, {
    c2s: c2sOpts, admission: open, log, rate: rates.c2s, tally: metrics.tally,
    stanzaSizeLimit: config.get<number>('c2s_stanza_size_limit'),
    config: () => config,
    serves: (h, rel) => { const host = hosts.get(h); return host !== undefined && servesWeb(host, rel); },
    anyServes: (rel) => [...hosts.values()].some((h) => servesWeb(h, rel)),
    ownOrigin: (h) => new URL(baseUrl(config, h)).origin,
    websocket: { path: WEBSOCKET_PATH, rel: WEBSOCKET_REL },
    bosh: { path: BOSH_PATH, rel: BOSH_REL },
  });
  await web.sync();
  await http.ensure();
  history.start(); // now that every source exists: the first sample reads them all
  await remote.resume();
  for (const host of hosts.values()) void host.events.fire('server-started', { hosts: [...hosts.keys()] });

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let stopping: Promise<void> | undefined;
  let reloading: Promise<unknown> = Promise.resolve();
  let markStopped = (): void => {};
  const stopped = new Promise<void>((resolve) => { markStopped = resolve; });

  /** Take a host out of service: its streams end with `host-gone`, its modules unload. */
  const removeHost = async (name: string, why: string): Promise<void> => {
    const host = hosts.get(name);
    if (!host) return;
    hosts.delete(name); // first: new streams to it now get host-unknown
    retired.add(name);
    const gone = new StreamError('host-gone', why);
    for (const conn of open.connections()) if (conn.host === name) conn.close(gone);
    for (const session of sessions.all(name)) session.close(gone); // hibernating (XEP-0198) ones too
    for (const conn of inbound.connections()) conn.forgetLocal(name, gone);
    remote.dropLocal(name);
    await host.unload();
    tlsContexts.delete(name);
    fingerprints.delete(name);
  };

  const running: RunningServer = {
    get config() { return config; },
    startConfig: opts.config,
    log, hosts, sessions, storage, c2s, s2s, fingerprints, stopped,
    c2sPort: c2s[0]?.port ?? 0,
    reopenLogs: () => reopenLogs(),
    setLogLevels: (targets) => setLogLevels(targets),
    s2sPort: s2s[0]?.port ?? 0,
    get componentPort() { return components.port; },
    get httpPort() { return http.port; },
    http,
    stats(reset = false) {
      const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
      const mem = process.memoryUsage();
      const out: ServerStats = {
        eventLoopDelayMs: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
        rssKiB: Math.round(mem.rss / 1024),
        heapUsedKiB: Math.round(mem.heapUsed / 1024),
        youngGenerationKiB: Math.round((getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 1024),
        connections: open.size,
        sessions: sessions.size,
        ...(storage.journalWrites ? { journalWrites: storage.journalWrites() } : {}),
      };
      if (reset) loop.reset();
      return out;
    },
    stop(reason = 'server shutting down') {
      stopping ??= (async () => {
        loop.disable();
        history.stop();
        metrics.stop();
        for (const host of hosts.values()) await host.events.fire('server-stopping', { reason });
        const closing = [...c2s, ...s2s].map((l) => l.close());
        for (const conn of open.connections()) conn.close(new StreamError('system-shutdown', reason));
        for (const conn of inbound.connections()) conn.close(new StreamError('system-shutdown', reason));
        closing.push(components.close(new StreamError('system-shutdown', reason)));
        web.close();
        closing.push(http.close());
        remote.stop();
        await Promise.all(closing);
        for (const host of hosts.values()) await host.unload();
        await storage.close();
        log.info('stopped');
        flushLog();
        markStopped();
      })();
      return stopping;
    },
    reloadConfig(via) {
      const next = reloading.then(() => reloadFromFile(running, via));
      reloading = next.catch(() => undefined);
      return next;
    },
    async apply(next, changed = []) {
      const report: ReloadReport = { added: [], removed: [], certificates: [], modules: [], errors: [] };
      if (stopping) return report;
      const wanted = enabledHosts(next);
      const kindIn = (cfg: Config, name: string): string | undefined => cfg.hosts.find((h) => h.name === name)?.kind;
      for (const name of [...hosts.keys()]) {
        // A name that changed kind (VirtualHost ⇄ Component) is taken down and brought up again.
        if (wanted.includes(name) && kindIn(next, name) === hosts.get(name)?.kind) continue;
        await removeHost(name, `${name} is no longer served here`);
        report.removed.push(name);
        log.info({ host: name }, 'host removed by a config reload');
      }
      config = next;
      for (const name of wanted) {
        try {
          if (!hosts.has(name)) {
            const host = await addHost(name, next);
            report.added.push(name);
            log.info({ host: name }, 'host added by a config reload');
            void host.events.fire('server-started', { hosts: [...hosts.keys()] });
          } else {
            // First the code of every module the host now wants: one that cannot be loaded fails
            // this host's reload before anything of it changed.
            const wanted = await hostModules(name, next);
            if ((await loadCert(name, next)).changed) report.certificates.push(name);
            const host = hosts.get(name) as Host;
            host.reconfigure(next);
            const { loaded, unloaded } = await host.reconcile(wanted.defs, wanted.registry);
            if (loaded.length || unloaded.length) {
              report.modules.push(`${name}: ${[loaded.length ? `loaded ${loaded.join(', ')}` : '', unloaded.length ? `unloaded ${unloaded.join(', ')}` : ''].filter(Boolean).join('; ')}`);
              log.info({ host: name, loaded, unloaded }, 'modules changed by a config reload');
            }
          }
        } catch (err) {
          const line = `${name}: ${(err as Error).message}`;
          report.errors.push(line);
          log.error({ host: name }, `config reload: ${line}; ${hosts.has(name) ? 'keeping the running certificate' : 'host not added'}`);
        }
      }
      componentDisco.sync(hosts);
      try {
        await components.ensure(); // the first external component came with this reload
      } catch (err) {
        report.errors.push((err as Error).message);
      }
      try {
        await web.sync(); // a reload may have loaded or unloaded the websocket / bosh modules
      } catch (err) {
        report.errors.push((err as Error).message);
      }
      try {
        syncOpsRoutes();
        await http.ensure(); // the first module serving HTTP came with this reload
      } catch (err) {
        report.errors.push((err as Error).message);
      }
      for (const host of hosts.values()) {
        host.reconfigure(next);
        await host.events.fire('config-reloaded', { config: next, changed });
      }
      return report;
    },
  };
  return running;
}
