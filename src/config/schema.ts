// Every option Clove knows, in one table: its type, default, scope, bounds, status and a
// one-line doc. docs/configuration.md and config/clove.cfg.lua describe the same table (a test
// keeps them in step). A module that reads an option adds its row here, so users get type
// checks, docs and no "unknown option" warning.

export type OptionType =
  | 'string' | 'number' | 'integer' | 'boolean'
  | 'enum'          // a string from `values` (or one of `aliases`)
  | 'path'          // a string; relative paths resolve against the config file's directory
  | 'string-list'   // { "a", "b" }; a single string is taken as a one-item list
  | 'origins'       // true, false, or a list of web origins ({ "http://a.b32.i2p" }): Prosody's cross_domain_* options
  | 'port-list'     // { 5222 }; a single number is taken as a one-item list
  | 'table'         // any table, returned as plain arrays/objects
  | 'map'           // { ["key"] = "value" } with string values
  | 'ssl'           // { key = "…"; certificate = "…"; … }
  | 'log'           // Prosody log forms, normalised to LogTarget[]
  | 'darknet-map'   // domain -> "x.b32.i2p" or { host = …; port = … }, normalised to DarknetTarget
  | 'duration';     // Prosody's "1d" / "2w" / "1m" / "1y" / "never" or a number of seconds, normalised to seconds (Infinity for "never")

/** Where an option may be set: 'host' options set globally act as the default for every host. */
export type Scope = 'global' | 'host' | 'both';
/** 'accepted': a Prosody option Clove parses but does not act on yet (one warning, never a crash). */
export type Status = 'implemented' | 'accepted';

export interface OptionSpec {
  readonly name: string;
  readonly type: OptionType;
  /** The value `get()` returns when the option is not set; undefined means "unset". */
  readonly default: unknown;
  readonly scope: Scope;
  readonly status: Status;
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** Accepted spellings of enum values and what Clove takes them to mean. */
  readonly aliases?: Readonly<Record<string, string>>;
  /** For an enum Prosody also takes as a boolean (restrict_room_creation = true): the value each boolean means. */
  readonly booleans?: { readonly true: string; readonly false: string };
  /** For an 'accepted' option: the value Clove already behaves as, which needs no warning. */
  readonly honoured?: unknown;
  /** The value may hold a password: errors name its type, never quote it. */
  readonly secret?: boolean;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** One log sink: messages at `level` and above go `to` the console, syslog or a file path. */
export interface LogTarget { readonly level: LogLevel; readonly to: 'console' | 'syslog' | string }
/** Where outbound s2s for a mapped domain goes through the SOCKS5 proxy. */
export interface DarknetTarget { readonly host: string; readonly port: number }
export interface SslOptions { readonly key?: string; readonly certificate?: string; readonly [k: string]: unknown }

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const MiB = 1024 * 1024;

type Row = Omit<OptionSpec, 'scope' | 'status'> & { scope?: Scope; status?: Status };
// Rows default to scope 'global' and status 'implemented'.
const ROWS: Row[] = [
  // Network
  { name: 'interfaces', type: 'string-list', default: ['127.0.0.1'], doc: 'Addresses every listener binds to unless a service sets its own.' },
  { name: 'c2s_ports', type: 'port-list', default: [5222], doc: 'Ports for client connections (STARTTLS); {} disables c2s.' },
  { name: 'c2s_interfaces', type: 'string-list', default: undefined, doc: 'Addresses for client connections; defaults to interfaces.' },
  { name: 's2s_ports', type: 'port-list', default: [5269], doc: 'Ports for server-to-server connections; {} disables inbound s2s.' },
  { name: 's2s_interfaces', type: 'string-list', default: undefined, doc: 'Addresses for server connections; defaults to interfaces.' },
  { name: 'c2s_direct_tls_ports', type: 'port-list', default: [], status: 'accepted', doc: 'Ports for direct-TLS client connections (XEP-0368).' },
  { name: 'legacy_ssl_ports', type: 'port-list', default: [], status: 'accepted', doc: 'Old name for direct-TLS client ports.' },
  { name: 'component_ports', type: 'port-list', default: [5347], doc: 'Ports for external components (XEP-0114); opened only when a Component has component_secret.' },
  { name: 'component_interfaces', type: 'string-list', default: undefined, doc: 'Addresses for external components; defaults to component_interface.' },
  { name: 'component_interface', type: 'string', default: '127.0.0.1', doc: 'Address for external components when component_interfaces is not set (local only: never expose it through i2pd).' },
  { name: 'http_ports', type: 'port-list', default: [5280], doc: 'Ports for the HTTP service (file sharing, host-meta, web clients); it opens only when a loaded module serves something over HTTP. Behind an i2pd HTTP server tunnel.' },
  { name: 'https_ports', type: 'port-list', default: [], status: 'accepted', doc: 'Ports for the HTTPS server.' },
  { name: 'http_interfaces', type: 'string-list', default: ['127.0.0.1'], doc: 'Addresses for the HTTP service (loopback: i2pd forwards to it; never expose it directly).' },
  { name: 'http_external_url', type: 'string', default: undefined, scope: 'both', doc: 'The public base URL of the HTTP service, e.g. "http://xxx.b32.i2p/": every URL Clove hands out starts with it (default http://<host>/); never a loopback address.' },
  { name: 'http_default_host', type: 'string', default: undefined, doc: 'The host that answers HTTP requests whose Host header names no host (default: the first VirtualHost).' },
  { name: 'http_max_content_size', type: 'integer', default: 10 * MiB, min: 1024, max: 1024 * MiB, doc: 'Largest request body, in bytes, for HTTP routes that do not stream (uploads have their own limit); 413 beyond.' },
  { name: 'http_max_header_size', type: 'integer', default: 8192, min: 1024, max: 65536, doc: 'Largest request head (request line and headers), in bytes; 431 beyond.' },
  { name: 'http_headers_timeout', type: 'number', default: 20, min: 1, max: 600, doc: 'Seconds a client may take to send a request head (slow-loris); 408 and close beyond.' },
  { name: 'http_request_timeout', type: 'number', default: 60, min: 1, max: 3600, doc: 'Seconds a request to a route that does not stream may take, body included; 408 and close beyond.' },
  { name: 'http_idle_timeout', type: 'number', default: 120, min: 1, max: 3600, doc: 'Seconds an HTTP connection may stay silent mid-request (a stalled upload) before it is closed.' },
  { name: 'http_keepalive_timeout', type: 'number', default: 15, min: 1, max: 600, doc: 'Seconds an idle keep-alive HTTP connection stays open between requests.' },
  { name: 'http_max_connections', type: 'integer', default: 1024, min: 1, max: 1000000, doc: 'HTTP connections open at once (upgraded WebSocket ones included); one more gets 503 and is closed.' },
  { name: 'https_interfaces', type: 'string-list', default: undefined, status: 'accepted', doc: 'Addresses for the HTTPS server.' },
  { name: 'network_backend', type: 'string', default: undefined, status: 'accepted', doc: "Prosody's socket backend; Node has one." },
  { name: 'use_libevent', type: 'boolean', default: undefined, status: 'accepted', doc: "Prosody's libevent switch; meaningless for Clove." },
  // Limits and timeouts
  { name: 'c2s_stanza_size_limit', type: 'integer', default: 256 * 1024, min: 1024, max: 64 * MiB, doc: 'Largest stanza a client may send, in bytes (policy-violation beyond).' },
  { name: 's2s_stanza_size_limit', type: 'integer', default: 512 * 1024, min: 1024, max: 64 * MiB, doc: 'Largest stanza a server may send, in bytes.' },
  { name: 'smacks_hibernation_time', type: 'number', default: 300, min: 1, max: 86400, scope: 'both', doc: 'Seconds a dropped stream-management session (XEP-0198) waits to be resumed before it ends.' },
  { name: 'smacks_max_queue_size', type: 'integer', default: 500, min: 1, max: 1000000, scope: 'both', doc: 'Unacknowledged stanzas kept per session before it is ended with resource-constraint.' },
  { name: 'c2s_timeout', type: 'number', default: 60, min: 1, max: 86400, doc: 'Seconds a client connection may take to authenticate and bind a resource (connection-timeout beyond); 60 leaves a slow I2P tunnel several times the ~8 round trips a login takes.' },
  { name: 'c2s_max_connections', type: 'integer', default: 20000, min: 1, max: 1000000, doc: 'Client connections open at once, over all hosts; one more gets the stream error resource-constraint and is closed.' },
  { name: 'c2s_max_unauthenticated', type: 'integer', default: 256, min: 1, max: 1000000, doc: 'Client connections that have not authenticated yet, at once; one more gets the stream error resource-constraint and is closed (behind i2pd every client is 127.0.0.1, so this is global).' },
  { name: 's2s_max_connections', type: 'integer', default: 1000, min: 1, max: 1000000, doc: 'Incoming server connections open at once; one more gets the stream error resource-constraint and is closed.' },
  { name: 's2s_max_unauthenticated', type: 'integer', default: 128, min: 1, max: 1000000, doc: 'Incoming server connections with no domain verified yet, at once; one more gets the stream error resource-constraint and is closed.' },
  { name: 'max_resources', type: 'integer', default: 10, min: 1, max: 10000, scope: 'both', doc: 'Sessions (resources) one account may have at once, hibernating ones included; one more bind fails with resource-constraint (mod_c2s_limit_sessions).' },
  { name: 's2s_timeout', type: 'number', default: 90, min: 1, max: 86400, doc: 'Seconds an s2s connection may take to be established and authenticated.' },
  { name: 'limits', type: 'table', default: undefined, doc: 'Read rate per connection, Prosody\'s mod_limits: { c2s = { rate = "100kb/s"; burst = "2s" }; s2sin = …; s2sout = … }; a faster peer is not read from until it is back under the rate. Unset: c2s 100kb/s, s2sin and s2sout 300kb/s, burst 2s; a type left out of a set table is not limited.' },
  // Files and process
  { name: 'data_path', type: 'path', default: './data', doc: 'Directory for stored data (accounts, rosters, offline messages).' },
  { name: 'certificates', type: 'path', default: 'certs', doc: 'Directory searched for <host>.crt / <host>.key when ssl is not set.' },
  { name: 'ssl', type: 'ssl', default: undefined, scope: 'both', doc: 'TLS key and certificate files: { key = "…"; certificate = "…" }.' },
  { name: 'log', type: 'log', default: [{ level: 'info', to: 'console' }], doc: 'Where logs go: a level, "*console", "*syslog", a file, or a table { level = sink }.' },
  { name: 'syslog_socket', type: 'path', default: '/dev/log', doc: 'Unix datagram socket of the local syslog daemon that "*syslog" log lines go to (facility daemon, tag clove, through logger(1)).' },
  { name: 'daemonize', type: 'boolean', default: false, doc: 'Detach into the background at clove start (as start -D; start -F stays in the foreground); console logs are then lost, so log to a file or syslog. Keep it false under a service manager.' },
  { name: 'gc_young_generation_max', type: 'integer', default: 16 * MiB, min: 2 * MiB, max: 32 * MiB, doc: "Largest size, in bytes, V8's young generation (new space: both semi-spaces, where new objects are born) may grow to under load; it starts at 2 MiB and grows straight to the limit at V8's first growth under load (a burst that grows it twice before Clove sees it can go over, up to 32 MiB). Node's own limit is 32 MiB: more RSS once many clients have logged in (~15 KiB per session at 2,000 sessions), fewer minor garbage collections. 2 MiB keeps it at its start size: least memory, up to a third more CPU per login and per archived message. Read at start." },
  { name: 'gc_release_when_idle', type: 'boolean', default: true, doc: "Give the young generation's grown memory back to the system about 6 s after allocation goes quiet (a login storm is over): Clove then runs one minor garbage collection (a few milliseconds), at which V8 shrinks it to its start size. V8 alone does so only ~40 s later. false leaves it to V8. Read at start." },
  { name: 'run_as_root', type: 'boolean', default: false, doc: 'Allow clove start as root (refused otherwise: a network daemon should not hold root; use a dedicated user).' },
  { name: 'pidfile', type: 'path', default: undefined, doc: 'File the server writes its process id to (a second start refuses while that process lives); used by clove stop and clove status.' },
  { name: 'prosody_user', type: 'string', default: undefined, status: 'accepted', doc: 'User to switch to (mod_posix); start Clove as that user instead.' },
  { name: 'prosody_group', type: 'string', default: undefined, status: 'accepted', doc: 'Group to switch to (mod_posix).' },
  { name: 'umask', type: 'string', default: undefined, doc: 'File creation mask as octal text, set by every clove command (start, register, cert generate, …); "027" when unset, so nothing Clove writes is world-readable.' },
  { name: 'plugin_paths', type: 'string-list', default: undefined, status: 'accepted', doc: 'Extra Prosody module directories; Clove modules are built in.' },
  // Accounts and access
  { name: 'admins', type: 'string-list', default: [], scope: 'both', doc: 'JIDs of server administrators: they may run the admin ad-hoc commands (XEP-0133).' },
  { name: 'modules_enabled', type: 'string-list', default: [], scope: 'both', doc: 'Modules to load; a host list adds to the global one.' },
  { name: 'modules_disabled', type: 'string-list', default: [], scope: 'both', doc: 'Modules not to load, even if enabled or loaded by default.' },
  { name: 'enabled', type: 'boolean', default: true, scope: 'host', doc: 'Set to false to keep a VirtualHost or Component defined but inactive.' },
  { name: 'allow_registration', type: 'boolean', default: false, scope: 'both', doc: 'Allow in-band account registration (XEP-0077) for anyone who can reach the server; over TLS only while c2s_require_encryption is on.' },
  { name: 'registration_throttle_max', type: 'integer', default: 10, min: 1, max: 1000000, scope: 'both', doc: 'New accounts in-band registration may create per registration_throttle_period on a host, over all connections (behind i2pd every client comes from loopback, so this is not per address).' },
  { name: 'registration_throttle_period', type: 'number', default: 3600, min: 1, max: 31536000, scope: 'both', doc: 'Seconds of the window registration_throttle_max counts in.' },
  { name: 'min_seconds_between_registrations', type: 'number', default: undefined, scope: 'both', status: 'accepted', min: 0, doc: 'Registration throttle per address.' },
  { name: 'registration_whitelist', type: 'string-list', default: undefined, scope: 'both', status: 'accepted', doc: 'Addresses exempt from the registration throttle.' },
  { name: 'authentication', type: 'enum', default: 'internal_hashed', scope: 'both', values: ['internal_hashed'], aliases: { internal_plain: 'internal_hashed' }, doc: 'Account store; "internal_plain" is accepted and also stores only hashed (SCRAM) keys.' },
  { name: 'allow_unencrypted_plain_auth', type: 'boolean', default: false, scope: 'both', status: 'accepted', doc: 'Offer SASL PLAIN on unencrypted connections.' },
  { name: 'auth_failure_delay', type: 'number', default: 1, min: 0, max: 60, doc: 'Seconds every SASL failure waits before it is sent, so one connection learns at most one wrong password per delay.' },
  { name: 'auth_throttle_delay', type: 'number', default: 1, min: 0.01, max: 3600, doc: 'Seconds the next password check of an account (existing or not) waits after a failed one, over all connections; doubles with each further failure up to auth_throttle_max_delay, and a success or 10 minutes without failures forget them.' },
  { name: 'auth_throttle_max_delay', type: 'number', default: 5, min: 0.01, max: 3600, doc: 'Longest wait between two password checks of one account. The real user gets in at most this long after a guessing flood stops; higher values slow guessing more.' },
  { name: 'auth_throttle_max_entries', type: 'integer', default: 10000, min: 100, max: 10000000, doc: 'Accounts with recent failures tracked at most (about 300 bytes each); past it the least recently used idle ones are forgotten.' },
  { name: 'auth_hashing_concurrency', type: 'integer', default: 2, min: 1, max: 64, doc: "PBKDF2 and bcrypt computations run at once over the whole server; keep it below libuv's thread pool size (UV_THREADPOOL_SIZE, 4 by default) so file I/O always has threads." },
  { name: 'auth_hashing_queue', type: 'integer', default: 256, min: 1, max: 100000, doc: 'Password checks that may wait for auth_hashing_concurrency; one arriving past it fails at once with temporary-auth-failure.' },
  { name: 'clove_bcrypt_cost', type: 'integer', default: 10, min: 4, max: 15, doc: 'bcrypt work factor of the hashes clove_store_bcrypt keeps.' },
  { name: 'clove_store_bcrypt', type: 'boolean', default: false, doc: 'Also store a bcrypt hash of each new or changed password (for outside tools that check bcrypt). Logins never use it; it costs ~45 ms of CPU per password at cost 10 (2,000 accounts: over a minute instead of seconds).' },
  { name: 'storage', type: 'enum', default: 'file', values: ['file', 'memory', 'sql'], aliases: { internal: 'file' }, doc: 'Storage backend: "file" (atomic files under data_path), "sql" (PostgreSQL or SQLite, set up by the sql option) or "memory" (lost on exit).' },
  { name: 'sql', type: 'table', default: undefined, secret: true, doc: 'Database for storage = "sql", Prosody\'s names: { driver = "PostgreSQL"; database = "clove"; host = "localhost"; port = 5432; username = "clove"; password = "…" } (host may be a Unix socket directory), or { driver = "SQLite3"; database = "clove.sqlite" } (a file in data_path; the default when storage = "sql" has no sql option). Tables are created or upgraded at start (docs/storage.md).' },
  { name: 'sql_pool_size', type: 'integer', default: 8, min: 1, max: 1000, doc: 'Connections to the database at most (storage = "sql"); keep it under the server\'s max_connections.' },
  { name: 'sql_queue_max', type: 'integer', default: 4096, min: 1, max: 1000000, doc: 'Storage requests that may wait for a free database connection (for SQLite3, for its worker thread); one more fails at once (a message archive write gets resource-constraint).' },
  { name: 'sql_statement_timeout', type: 'number', default: 30, min: 1, max: 3600, doc: 'Seconds one SQL statement may run before PostgreSQL cancels it (the request fails; nothing half-written stays); for SQLite3, how long a write waits for another process\'s lock on the file.' },
  { name: 'storage_pending_bytes_per_user', type: 'integer', default: MiB, min: 4096, max: 1024 * MiB, doc: 'Bytes of changes to one user\'s map (roster, private XML, PEP…) that may wait behind the write in flight when the disk or database is slow; one more is refused at once (the client gets resource-constraint, type wait). A first waiting change is always taken; a keyval value waits as its newest version only.' },
  { name: 'storage_pending_bytes', type: 'integer', default: 64 * MiB, min: 65536, max: 16 * 1024 * MiB, doc: 'Bytes of keyval and map changes waiting for the disk or database over the whole server (queued or being written); one more is refused at once with resource-constraint (type wait).' },
  // Storage driven from outside (docs/limits.md)
  { name: 'max_roster_items', type: 'integer', default: 5000, min: 1, max: 1000000, scope: 'both', doc: 'Most items in one roster; a roster set past it gets not-allowed.' },
  { name: 'max_roster_bytes', type: 'integer', default: MiB, min: 4096, max: 64 * MiB, scope: 'both', doc: 'Most bytes of roster items (stored JSON) per account; a roster set past it gets resource-constraint.' },
  { name: 'pep_max_items', type: 'integer', default: 256, min: 1, max: 10000, scope: 'both', doc: 'Most items one PEP node keeps, and what max_items "max" means; a larger max_items gets not-acceptable.' },
  { name: 'pep_max_item_bytes', type: 'integer', default: 256 * 1024, min: 1024, max: 16 * MiB, scope: 'both', doc: 'Most bytes of one PEP item as XML; a larger one gets not-acceptable with payload-too-big.' },
  { name: 'pep_max_nodes', type: 'integer', default: 256, min: 1, max: 100000, scope: 'both', doc: 'Most PEP nodes per account; creating one more gets policy-violation.' },
  { name: 'default_archive_policy', type: 'enum', default: 'always', values: ['always', 'never', 'roster'], booleans: { true: 'always', false: 'never' }, scope: 'both', doc: 'What the message archive (module mam) does for an account that set no archiving preferences: true (archive every conversation), false (none until the user turns it on), "roster" (only with contacts in the roster). As Prosody.' },
  // HTTP file upload (module http_file_share, XEP-0363)
  { name: 'http_file_share_size_limit', type: 'integer', default: 10 * MiB, min: 1, max: 64 * 1024 * MiB, scope: 'both', doc: 'Largest file one upload may be, in bytes (XEP-0363 file-too-large beyond).' },
  { name: 'http_file_share_daily_quota', type: 'integer', default: undefined, min: 1, max: 1024 * 1024 * MiB, scope: 'both', doc: 'Bytes one user may upload in 24 hours (default 10 × http_file_share_size_limit); resource-constraint beyond.' },
  { name: 'http_file_share_global_quota', type: 'integer', default: 10 * 1024 * MiB, min: 1, max: 1024 * 1024 * MiB, scope: 'both', doc: 'Bytes all stored files of one upload service may take on disk; resource-constraint (slot) or 507 (upload) beyond.' },
  { name: 'http_file_share_expires_after', type: 'duration', default: 7 * 86400, scope: 'both', doc: 'How long an uploaded file is served before it is deleted: "1d", "1w", "never" or seconds, as Prosody; default one week.' },
  { name: 'http_file_share_allowed_file_types', type: 'string-list', default: undefined, scope: 'both', doc: 'Media types a slot may be given for ("image/png", "image/*"); unset allows all.' },
  { name: 'http_file_share_access', type: 'string-list', default: [], scope: 'both', doc: 'JIDs and domains that may upload besides the users of the host (a component: of its parent domain).' },
  { name: 'archive_expires_after', type: 'duration', default: 7 * 86400, scope: 'both', doc: 'How long the message archive (XEP-0313, module mam) keeps a message: "1d", "1w", "1m", "1y", "never" or a number of seconds, as Prosody; default one week.' },
  { name: 'max_archive_query_results', type: 'integer', default: 50, min: 1, max: 1000, scope: 'both', doc: 'Largest page one archive query (XEP-0313) returns; a larger RSM max is cut to it and the client pages on, as Prosody.' },
  { name: 'storage_archive_item_limit', type: 'integer', default: 10000, min: 10, max: 10000000, scope: 'both', doc: 'Most messages one account\'s archive keeps; at the limit the oldest 1 % go to make room, as Prosody.' },
  { name: 'archive_max_bytes', type: 'integer', default: 64 * MiB, min: 1 * MiB, max: 64 * 1024 * MiB, scope: 'both', doc: 'Most bytes of one account\'s archive; at the limit the oldest 1 % go to make room.' },
  { name: 'pep_max_bytes', type: 'integer', default: 8 * MiB, min: 64 * 1024, max: 1024 * MiB, scope: 'both', doc: 'Most bytes of stored PEP nodes and items per account; a publish past it gets resource-constraint.' },
  { name: 'pubsub_admins', type: 'string-list', default: [], scope: 'both', doc: 'JIDs who administer a pubsub component besides the admins: they own every node and may create nodes.' },
  { name: 'restrict_node_creation', type: 'boolean', default: true, scope: 'both', doc: 'On a pubsub component, only admins and pubsub_admins may create nodes; others get forbidden.' },
  { name: 'pubsub_max_items', type: 'integer', default: 256, min: 1, max: 10000, scope: 'both', doc: 'Most items one node of a pubsub component keeps, and what max_items "max" means.' },
  { name: 'pubsub_max_item_bytes', type: 'integer', default: 256 * 1024, min: 1024, max: 16 * MiB, scope: 'both', doc: 'Most bytes of one item on a pubsub component; a larger one gets not-acceptable with payload-too-big.' },
  { name: 'pubsub_max_nodes', type: 'integer', default: 1000, min: 1, max: 100000, scope: 'both', doc: 'Most nodes of one pubsub component; creating one more gets policy-violation.' },
  { name: 'pubsub_max_bytes', type: 'integer', default: 64 * MiB, min: 64 * 1024, max: 1024 * MiB, scope: 'both', doc: 'Most bytes of stored nodes and items of one pubsub component; a publish past it gets resource-constraint.' },
  { name: 'pubsub_max_subscriptions', type: 'integer', default: 1000, min: 1, max: 100000, scope: 'both', doc: 'Most subscriptions (and affiliations) per node of a pubsub component; one more gets policy-violation.' },
  { name: 'restrict_room_creation', type: 'enum', default: 'anyone', values: ['anyone', 'admin', 'local'], booleans: { true: 'admin', false: 'anyone' }, scope: 'both', doc: 'On a muc component, who may create rooms: false (anyone), true or "admin" (admins only), "local" (users of the parent domain and admins); others get not-allowed.' },
  { name: 'muc_max_rooms', type: 'integer', default: 1000, min: 1, max: 1_000_000, scope: 'both', doc: 'Most rooms one muc component holds; creating one more gets resource-constraint.' },
  { name: 'muc_max_rooms_per_user', type: 'integer', default: 20, min: 1, max: 100_000, scope: 'both', doc: 'Most rooms one user (bare JID) may have created on a muc component; one more gets policy-violation.' },
  { name: 'muc_max_occupants', type: 'integer', default: 500, min: 1, max: 100_000, scope: 'both', doc: 'Most occupants of one room (and the highest muc#roomconfig_maxusers); one more gets service-unavailable.' },
  { name: 'max_history_messages', type: 'integer', default: 100, min: 0, max: 10_000, scope: 'both', doc: 'Most discussion-history messages a room may keep (the highest muc#roomconfig_historylength).' },
  { name: 'muc_room_default_history_length', type: 'integer', default: 20, min: 0, max: 10_000, scope: 'both', doc: 'History length a new room starts with (capped by max_history_messages).' },
  { name: 'muc_max_history_bytes', type: 'integer', default: 256 * 1024, min: 0, max: 64 * MiB, scope: 'both', doc: 'Most bytes of discussion history one room keeps in memory; older messages go first.' },
  { name: 'muc_event_rate', type: 'number', default: 2, min: 0.01, max: 1000, scope: 'both', doc: 'Messages and presence changes per second one occupant may send to a room; past it (and the burst) they get policy-violation (wait).' },
  { name: 'muc_burst_factor', type: 'number', default: 5, min: 1, max: 1000, scope: 'both', doc: 'Burst an occupant may send at once, as a multiple of muc_event_rate.' },
  { name: 'muc_max_subject_bytes', type: 'integer', default: 4096, min: 16, max: 256 * 1024, scope: 'both', doc: 'Most bytes of a room subject; a longer one gets not-acceptable.' },
  { name: 'muc_max_affiliations', type: 'integer', default: 2000, min: 1, max: 1_000_000, scope: 'both', doc: 'Most affiliations (owners, admins, members, outcasts) one room keeps; more get policy-violation.' },
  { name: 'muc_room_locking', type: 'boolean', default: true, scope: 'both', doc: 'A new room stays locked (item-not-found to others) until its owner configures it or accepts the instant defaults.' },
  { name: 'muc_room_lock_timeout', type: 'integer', default: 300, min: 1, max: 86400, scope: 'both', doc: 'Seconds a new room may stay locked before it is destroyed.' },
  { name: 'muc_room_default_public', type: 'boolean', default: true, scope: 'both', doc: 'New rooms are listed in the service disco#items.' },
  { name: 'muc_room_default_persistent', type: 'boolean', default: false, scope: 'both', doc: 'New rooms are persistent (kept when empty, and across restarts).' },
  { name: 'muc_room_default_members_only', type: 'boolean', default: false, scope: 'both', doc: 'New rooms admit members only.' },
  { name: 'muc_room_default_moderated', type: 'boolean', default: false, scope: 'both', doc: 'New rooms are moderated (newcomers are visitors without voice).' },
  { name: 'muc_room_default_public_jids', type: 'boolean', default: false, scope: 'both', doc: 'New rooms show real JIDs to everyone (whois anyone); otherwise to moderators only.' },
  { name: 'muc_room_default_change_subject', type: 'boolean', default: false, scope: 'both', doc: 'In new rooms participants may change the subject (moderators always may).' },
  { name: 'muc_room_default_allow_member_invites', type: 'boolean', default: false, scope: 'both', doc: 'In new members-only rooms members may invite others (who become members).' },
  { name: 'muc_room_default_language', type: 'string', default: '', scope: 'both', doc: 'Language tag new rooms start with.' },
  { name: 'max_pending_subscriptions', type: 'integer', default: 500, min: 1, max: 100000, scope: 'both', doc: 'Most unanswered subscription requests kept per account; further requests are dropped.' },
  // Encryption and server-to-server
  { name: 'c2s_require_encryption', type: 'boolean', default: true, scope: 'both', doc: 'Refuse to authenticate clients before TLS.' },
  { name: 'dialback_secret', type: 'string', default: undefined, doc: 'Secret for server dialback keys (XEP-0185); random at every start when unset.' },
  { name: 's2s_connect_timeout', type: 'number', default: 120, min: 1, max: 3600, doc: 'Seconds to reach a peer (TCP, or SOCKS5 through i2pd) before the attempt counts as failed.' },
  { name: 's2s_send_deadline', type: 'number', default: 600, min: 1, max: 604800, doc: 'Seconds a stanza may wait for its peer, over retries, before it is bounced.' },
  { name: 's2s_idle_timeout', type: 'number', default: 600, min: 1, max: 86400, doc: 'Seconds an s2s stream may stay idle before it is closed: outgoing ones; incoming ones, once a domain is verified on them, after twice this (the sending side normally closes first).' },
  { name: 's2s_require_encryption', type: 'boolean', default: true, scope: 'both', doc: 'Require TLS on server-to-server connections.' },
  { name: 's2s_secure_auth', type: 'boolean', default: false, scope: 'both', doc: 'Require peers (other than .i2p ones) to present a CA-verified certificate valid for their domain; keep false on I2P (dialback authenticates).' },
  { name: 's2s_secure_domains', type: 'string-list', default: undefined, scope: 'both', status: 'accepted', doc: 'Peers that must present valid certificates.' },
  { name: 's2s_insecure_domains', type: 'string-list', default: undefined, scope: 'both', status: 'accepted', doc: 'Peers exempt from s2s_secure_auth.' },
  { name: 'tls_profile', type: 'string', default: undefined, scope: 'both', status: 'accepted', doc: 'Mozilla TLS profile name.' },
  // Web clients: WebSocket (RFC 7395, module websocket) and BOSH (XEP-0206, module bosh)
  { name: 'consider_websocket_secure', type: 'boolean', default: true, doc: 'Treat WebSocket clients as encrypted for c2s_require_encryption (SASL PLAIN allowed): the HTTP service listens on loopback and i2pd carries the connection end-to-end encrypted. As Prosody\'s option, but on by default; set false if the HTTP service is reachable other than through i2pd.' },
  { name: 'consider_bosh_secure', type: 'boolean', default: true, doc: 'Treat BOSH clients as encrypted for c2s_require_encryption, for the same reason as consider_websocket_secure.' },
  { name: 'cross_domain_websocket', type: 'origins', default: false, doc: 'Web pages that may open /xmpp-websocket: false (the same origin only: the host\'s http_external_url or the request\'s own Host), true (any), or a list of origins { "http://xxx.b32.i2p" }.' },
  { name: 'cross_domain_bosh', type: 'origins', default: false, doc: 'Web pages that may use /http-bind (CORS): false (the same origin only), true (any), or a list of origins.' },
  { name: 'bosh_max_inactivity', type: 'number', default: 60, min: 5, max: 3600, doc: 'Seconds a BOSH session may go without a request held before it ends (the client is gone).' },
  { name: 'bosh_max_wait', type: 'number', default: 120, min: 1, max: 3600, doc: 'Longest time, in seconds, a BOSH request is held waiting for something to send; a client asking for longer gets this.' },
  { name: 'bosh_max_requests', type: 'integer', default: 2, min: 1, max: 16, doc: 'Requests a BOSH client may have open at once (it holds one fewer); one more ends the session with policy-violation, a rid outside this window with item-not-found.' },
  // I2P (mod_darknet compatible)
  { name: 'darknet_only', type: 'boolean', default: true, doc: 'Send s2s only through the I2P SOCKS proxy and refuse every clearnet destination (default); false allows clearnet federation, which reveals the server address.' },
  { name: 'darknet_map', type: 'darknet-map', default: {}, doc: 'Domains reached through I2P: { ["example.org"] = "x.b32.i2p" } or { host = …; port = … }.' },
  { name: 'darknet_socks5_host', type: 'string', default: '127.0.0.1', doc: "Address of i2pd's SOCKS5 proxy." },
  { name: 'darknet_socks5_port', type: 'integer', default: 4447, min: 1, max: 65535, doc: "Port of i2pd's SOCKS5 proxy." },
  // What the server says about itself
  { name: 'hide_os_type', type: 'boolean', default: true, scope: 'both', doc: 'Leave the operating system out of software version replies (XEP-0092); false shows its name, never the kernel release.' },
  { name: 'version_to_remote', type: 'enum', default: 'name', values: ['none', 'name', 'version'], scope: 'both', doc: 'What software version replies (XEP-0092) tell other domains: "none" (service-unavailable), "name" (Clove, no version) or "version"; local users always get the version.' },
  // Bookmarks (XEP-0402)
  { name: 'upgrade_legacy_bookmarks', type: 'boolean', default: true, scope: 'both', doc: 'Move legacy bookmarks (XEP-0048) found in private storage to Bookmarks 2 when their owner logs in (module bookmarks, as Prosody).' },
  // Components and informational options
  { name: 'component_secret', type: 'string', default: undefined, scope: 'host', doc: 'Shared secret of an external component (XEP-0114 handshake); a Component without a module name needs it.' },
  { name: 'name', type: 'string', default: undefined, scope: 'host', doc: "Display name of a component, shown in its parent host's service discovery items." },
  { name: 'contact_info', type: 'table', default: undefined, scope: 'both', doc: 'Contact addresses published in the host\'s disco#info (XEP-0157, module server_contact_info): { abuse = { "mailto:…" }; admin = { "xmpp:…" }; … } with the kinds abuse, admin, feedback, sales, security, status, support; unset, the admins are published as admin addresses, as in Prosody. Applied after a restart.' },
  { name: 'disco_items', type: 'table', default: undefined, scope: 'both', doc: 'Extra items in the host\'s disco#items (XEP-0030, module disco): { { "jid", "name" }, … }, as in Prosody; a malformed entry fails start-up and reload with file:line. Applied after a restart.' },
  // The operator's view (modules http_openmetrics and http_status; docs/metrics.md)
  { name: 'openmetrics_allow_ips', type: 'string-list', default: ['127.0.0.1', '::1'], doc: 'Client addresses allowed to read /metrics (module http_openmetrics); requests that came through an i2pd HTTP tunnel are refused whatever their address.' },
  { name: 'openmetrics_allow_cidr', type: 'string-list', default: [], doc: 'Address ranges (e.g. "10.0.0.0/8") allowed to read /metrics besides openmetrics_allow_ips.' },
  { name: 'http_status_allow_i2p', type: 'boolean', default: false, doc: 'Let admins open /status (module http_status) through an i2pd HTTP tunnel, not only from this machine.' },
  { name: 'motd_text', type: 'string', default: undefined, scope: 'both', doc: 'Message of the day (module motd): sent to each client session when it first becomes available, from motd_jid; unset, nothing is sent. Leading spaces of each line are removed, as Prosody.' },
  { name: 'motd_jid', type: 'string', default: undefined, scope: 'both', doc: 'Who the message of the day comes from (module motd); default the host itself.' },
  { name: 'welcome_message', type: 'string', default: undefined, scope: 'both', doc: 'Message to every new account (module welcome), kept offline until its first login; $username and $host are replaced. Default: a line naming the host and the account.' },
  // Invitations (modules invites, invites_adhoc, invites_register)
  { name: 'invite_expiry', type: 'duration', default: 7 * 86400, scope: 'both', doc: 'How long an invitation stays valid (module invites): "1d", "1w", … or seconds; default one week, as Prosody.' },
  { name: 'invites_max_pending', type: 'integer', default: 1000, min: 1, max: 1000000, scope: 'both', doc: 'Most invitations pending on a host (expired ones do not count); creating one more is refused with resource-constraint. Each creator has at most 50.' },
  { name: 'allow_user_invites', type: 'boolean', default: false, scope: 'both', doc: 'Whether users who are not admins may create invitations that register new accounts (module invites_adhoc); without it their invitations only make contacts of existing accounts. As Prosody. Applied live.' },
  { name: 'allow_contact_invites', type: 'boolean', default: true, scope: 'both', doc: 'Whether every local user may use the contact invitation command (urn:xmpp:invite#invite); off, only admins. As Prosody. Applied live.' },
];

/** Every option Clove knows, in table order. */
export const SCHEMA: readonly OptionSpec[] = ROWS.map((r) => Object.freeze({ scope: 'global', status: 'implemented', ...r }));
const BY_NAME = new Map(SCHEMA.map((s) => [s.name, s]));

/** The spec of a known option, or undefined. */
export function findOption(name: string): OptionSpec | undefined {
  return BY_NAME.get(name);
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** The known option closest to a misspelt name, if one is close enough to be a likely typo. */
export function suggestOption(name: string): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const lower = name.toLowerCase();
  for (const spec of SCHEMA) {
    const d = distance(lower, spec.name);
    if (d < bestD) [best, bestD] = [spec.name, d];
  }
  return bestD <= Math.max(1, Math.min(3, Math.floor(name.length / 3))) ? best : undefined;
}
