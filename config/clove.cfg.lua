-- Clove configuration file.
--
-- The syntax is Prosody's: `name = value` lines (the `;` is optional), strings in "…" or '…',
-- numbers, true/false, lists like { "a"; "b" } and tables like { key = "value" }.
-- Options before the first VirtualHost/Component line are global; options after such a line
-- belong to that host until the next one. Host options set globally are every host's default.
-- Lines starting with `--` are comments. Options marked "(accepted)" are read for Prosody
-- compatibility but Clove does not act on them yet: setting one prints a warning.
--
-- This file works as-is for a server named "localhost". For I2P, replace "localhost" with the
-- xxx.b32.i2p address of your i2pd server tunnel. Relative paths are relative to this file.
-- Reference: docs/configuration.md. Check a config with `clove check`.

---------- Network ----------

-- Addresses every listener binds to. Keep 127.0.0.1: i2pd forwards I2P traffic here.
interfaces = { "127.0.0.1" }

-- Client (c2s) and server (s2s) ports; {} turns a listener off.
c2s_ports = { 5222 }
s2s_ports = { 5269 }

-- Per-service addresses; by default both use `interfaces`.
-- c2s_interfaces = { "127.0.0.1" }
-- s2s_interfaces = { "127.0.0.1" }

-- External components (XEP-0114) connect here; the port opens only when a Component with
-- component_secret is configured. Keep it on loopback: never behind an i2pd tunnel.
-- component_ports = { 5347 }
-- component_interface = "127.0.0.1"
-- component_interfaces = { "127.0.0.1" }

-- HTTP (file sharing, host-meta, web clients): opens only when a loaded module serves something
-- over HTTP. Keep it on loopback behind an i2pd HTTP server tunnel (docs/http.md), and set
-- http_external_url to the tunnel's address: every URL Clove hands out starts with it.
-- http_ports = { 5280 }
-- http_interfaces = { "127.0.0.1" }
-- http_external_url = "http://xxx.b32.i2p/"
-- http_default_host = "xxx.b32.i2p"
-- Limits (docs/limits.md): request bodies of routes that do not stream, the request head,
-- slow clients, idle keep-alive connections, and connections open at once.
-- http_max_content_size = 10485760
-- http_max_header_size = 8192
-- http_headers_timeout = 20
-- http_request_timeout = 60
-- http_idle_timeout = 120
-- http_keepalive_timeout = 15
-- http_max_connections = 1024

-- (accepted) Other listeners Prosody has:
-- c2s_direct_tls_ports = { 5223 }
-- legacy_ssl_ports = { 5223 }
-- https_ports = { 5281 }
-- https_interfaces = { "127.0.0.1" }
-- (accepted) Prosody's socket backend switches; meaningless for Clove:
-- network_backend = "epoll"
-- use_libevent = false

---------- Limits and timeouts ----------

-- Largest stanza, in bytes; bigger ones end the stream with policy-violation.
c2s_stanza_size_limit = 262144 -- 256 KiB
s2s_stanza_size_limit = 524288 -- 512 KiB

-- Seconds a client may take to log in and bind, and an s2s connection to come up. A login is
-- about 8 round trips; 60 s leaves a slow I2P tunnel several times that.
c2s_timeout = 60

-- Connection caps (docs/limits.md). Behind i2pd every client comes from 127.0.0.1, so these are
-- global: connections open at once, those still logging in, and sessions per account; for
-- incoming servers, connections open at once and those with no domain verified yet.
c2s_max_connections = 20000
c2s_max_unauthenticated = 256
s2s_max_connections = 1000
s2s_max_unauthenticated = 128
max_resources = 10

-- Stream management (XEP-0198): a client whose tunnel drops can resume within this many seconds
-- and gets every unacknowledged stanza again; after it, they go to its other resources or offline.
smacks_hibernation_time = 300
smacks_max_queue_size = 500
s2s_timeout = 90

-- Federation patience: I2P tunnels are slow, so Clove queues stanzas for a peer, retries with
-- backoff (5 s, 15 s, 30 s, 1 min, 2 min, then every 5 min) and bounces only after the deadline.
s2s_connect_timeout = 120 -- seconds to reach a peer through the proxy
s2s_send_deadline = 600   -- seconds a stanza may wait for its peer before it is bounced
s2s_idle_timeout = 600    -- seconds before an unused s2s stream (outgoing, or verified incoming) is closed

-- Secret for dialback keys (XEP-0185). Unset: a random secret at every start, which is fine
-- for a single server process.
-- dialback_secret = "a long random string"

-- Read rate per connection (Prosody's mod_limits); a faster peer is not read from until it is
-- back under the rate. Unset: these defaults. A type left out of the table is not limited;
-- `limits = { }` lifts every limit.
-- limits = { c2s = { rate = "100kb/s"; burst = "2s" }; s2sin = { rate = "300kb/s" }; s2sout = { rate = "300kb/s" } }

---------- Files and process ----------

-- Where accounts, rosters and offline messages are stored.
data_path = "../data"

-- Directory searched for <host>.crt and <host>.key when a host has no `ssl` option.
-- `clove cert generate localhost` writes a self-signed pair there.
certificates = "../certs"

-- Explicit key and certificate (usually set per VirtualHost, see below):
-- ssl = { key = "../certs/localhost.key"; certificate = "../certs/localhost.crt" }

-- Logging: a level ("debug", "info", "warn", "error"), "*console", "*syslog", a file path,
-- or a table of level = sink pairs, e.g. { error = "/var/log/clove/clove.err"; "*syslog" }.
log = { info = "*console" }
-- "*syslog" sends lines to the local syslog (facility daemon, tag "clove") through
-- util-linux logger(1); if that fails, one warning, then those lines go to the console.
-- The syslog daemon's unix datagram socket:
-- syslog_socket = "/dev/log"

-- Backend for stored data: "file" (atomic files under data_path), "sql" (PostgreSQL or SQLite) or
-- "memory" (lost on exit). docs/storage.md helps choose and sets PostgreSQL up in three commands.
storage = "file"
-- For storage = "sql": the database, in Prosody's names (host may be a Unix socket directory;
-- port, username and password may be left out). Tables are created or upgraded at start.
-- sql = { driver = "PostgreSQL"; database = "clove"; host = "localhost"; port = 5432; username = "clove"; password = "secret" }
-- Or one SQLite file, taken from data_path (what storage = "sql" without sql means; needs the
-- optional package better-sqlite3, see docs/storage.md):
-- sql = { driver = "SQLite3"; database = "clove.sqlite" }
-- Connections at most, requests that may wait for one (one more fails at once), and seconds
-- one statement may run before PostgreSQL cancels it (SQLite3: how long a write waits for
-- another process's lock on the file; the queue is for its worker thread):
-- sql_pool_size = 8
-- sql_queue_max = 4096
-- sql_statement_timeout = 30
-- Changes waiting for a slow disk or database (file or sql storage): bytes per user's map
-- behind the write in flight, and bytes over the whole server; one more is refused at once
-- (the client gets resource-constraint and may try again):
-- storage_pending_bytes_per_user = 1048576
-- storage_pending_bytes = 67108864

-- Rosters are bounded, since anyone can send subscription requests (docs/limits.md):
-- items per roster (past it: not-allowed), bytes of items per roster (past it:
-- resource-constraint), and unanswered requests kept per account (past it: dropped).
max_roster_items = 5000
max_roster_bytes = 1048576
max_pending_subscriptions = 500

-- Personal eventing (PEP, XEP-0163; the `pep` module) is bounded per account (docs/limits.md):
-- items one node keeps (and what max_items "max" means), bytes of one item as XML, nodes per
-- account, and bytes of all stored nodes and items of one account.
pep_max_items = 256
pep_max_item_bytes = 262144
pep_max_nodes = 256
pep_max_bytes = 8388608

-- The message archive (XEP-0313; the `mam` module), as Prosody's mod_mam: how long a message is
-- kept ("1d", "1w", "1m", "1y", "never" or seconds; an I2P server keeps as little as serves its
-- users), the largest page a query returns (a larger max is cut to it), and per account the
-- most messages and bytes kept (at either limit the oldest 1 % are deleted to make room).
archive_expires_after = "1w"
-- For accounts that set no archiving preferences: true (all), false (none), "roster".
default_archive_policy = true
max_archive_query_results = 50
storage_archive_item_limit = 10000
archive_max_bytes = 67108864

-- HTTP file upload (XEP-0363; Component "share.example" "http_file_share", docs/http.md): the
-- largest file, bytes per user per day (default 10 × the size limit), bytes on disk for the
-- service, how long a file is served, which media types may be shared ("image/*"; unset: all),
-- and who besides the users of the parent host may upload. URLs start with http_external_url.
-- http_file_share_size_limit = 10485760
-- http_file_share_daily_quota = 104857600
-- http_file_share_global_quota = 10737418240
-- http_file_share_expires_after = "1w"
-- http_file_share_allowed_file_types = { "image/*", "video/*", "audio/*", "text/plain" }
-- http_file_share_access = { "friend@other.b32.i2p" }

-- A pubsub service (XEP-0060; Component "pubsub.example" "pubsub"): only the admins and
-- pubsub_admins create nodes while restrict_node_creation is on (others get forbidden); bounded
-- per service (docs/limits.md): items per node, bytes of one item, nodes, bytes of all stored
-- nodes and items, and subscriptions (and affiliations) per node.
pubsub_admins = { }
restrict_node_creation = true
pubsub_max_items = 256
pubsub_max_item_bytes = 262144
pubsub_max_nodes = 1000
pubsub_max_bytes = 67108864
pubsub_max_subscriptions = 1000

-- Multi-user chat (XEP-0045; Component "conference.example" "muc", see the end of this file).
-- Who may create rooms: false (anyone), true or "admin" (admins only), "local" (users of the
-- parent domain); others get not-allowed. As Prosody's option:
-- restrict_room_creation = false
-- Bounds (docs/limits.md): rooms on the component, rooms one user created, occupants of one
-- room, history messages a room may keep and their bytes in memory, messages and presence
-- changes per second of one occupant (bursts of rate x factor), subject bytes, affiliations
-- per room.
muc_max_rooms = 1000
muc_max_rooms_per_user = 20
muc_max_occupants = 500
max_history_messages = 100
muc_max_history_bytes = 262144
muc_event_rate = 2
muc_burst_factor = 5
muc_max_subject_bytes = 4096
muc_max_affiliations = 2000
-- A new room is locked (item-not-found to others) until its owner configures it or accepts the
-- instant defaults; left locked this many seconds, it is destroyed:
muc_room_locking = true
muc_room_lock_timeout = 300
-- What new rooms start with (their owners change it with the configuration form):
muc_room_default_history_length = 20
muc_room_default_public = true
muc_room_default_persistent = false
muc_room_default_members_only = false
muc_room_default_moderated = false
muc_room_default_public_jids = false
muc_room_default_change_subject = false
muc_room_default_allow_member_invites = false
-- muc_room_default_language = "en"

-- Also store a bcrypt hash of each password (for outside tools; logins never use it). It costs
-- ~45 ms of CPU per password at cost 10: batch account creation gets ~10x slower.
-- clove_store_bcrypt = false
-- bcrypt work factor of those hashes (4..15); each step doubles the time per password change.
clove_bcrypt_cost = 10

-- File the server writes its process id to; a second start refuses while that process
-- lives, and `clove stop` / `clove status` find the server through it:
-- pidfile = "/run/clove/clove.pid"
-- Detach into the background at `clove start` (as `start -D`; `start -F` overrides). Console
-- logs are then lost: log to a file or syslog. Keep it false under a service manager.
-- daemonize = false
-- Largest size of V8's young generation (new space), in bytes: it starts at 2 MiB and grows,
-- at the first burst of load, straight to this. Node's own limit is 32 MiB (~15 KiB more RSS per session at 2,000
-- sessions); 2 MiB keeps it at its start size (least memory, up to a third more CPU per login
-- and per archived message).
-- gc_young_generation_max = 16 * 1024 * 1024
-- Give that grown young generation back ~6 s after a burst of load ends (one minor garbage
-- collection of a few ms); false leaves it to V8, which does so ~40 s later.
-- gc_release_when_idle = true
-- File creation mask, set at start ("027" when unset: nothing is world-readable):
-- umask = "027"
-- (accepted) Process options from Prosody's mod_posix; run Clove under a service manager
-- as the user you want instead:
-- clove start refuses to run as root unless this is set:
-- run_as_root = false
-- prosody_user = "clove"
-- prosody_group = "clove"
-- (accepted) Prosody module directories; Clove's modules are built in:
-- plugin_paths = { "/usr/local/lib/prosody/modules" }

---------- Accounts and access ----------

-- Server administrators (bare JIDs): they may run the admin ad-hoc commands (module
-- "admin_adhoc": add, delete and list users, announcements, shut down, …) from their client.
-- admins = { }

-- Modules to load, and modules not to load. A VirtualHost's list adds to the global one.
-- Clove's modules, by Prosody name: roster, disco, ping, vcard, vcard_update (avatar hashes in
-- presence), register, private, offline (loaded unless disabled), blocklist, carbons, csi,
-- smacks (stream management), pep (personal eventing, XEP-0163: OMEMO keys, avatars,
-- bookmarks), bookmarks (XEP-0402 Bookmarks 2 kept in step with legacy
-- XEP-0048 bookmarks; needs pep), vcard_legacy (avatars converted between vCard and PEP,
-- XEP-0398; needs pep), mam (message archive, XEP-0313: history for every device of an
-- account, kept archive_expires_after; on by default where modules_enabled is not set, unlike
-- Debian's Prosody, because over I2P devices miss messages often; leave it out of a list, or put
-- it in modules_disabled of a VirtualHost, to keep no history there),
-- version, time, uptime (off by default: it tells when the server restarted), lastactivity
-- (last logout of users, for their contacts; off by default, as in Debian's Prosody), adhoc and
-- admin_adhoc, server_contact_info (contact addresses in disco, off by default),
-- http_openmetrics and http_status (the operator's /metrics and /status, off by default;
-- docs/metrics.md), invites, invites_adhoc, invites_register and invites_page (invitation
-- links, docs/invitations.md), motd, welcome and announce (messages to users; all off by
-- default), darknet
-- (built in: loaded even when not listed; disabling it is allowed only with
-- darknet_only = false). saslauth, tls and dialback are part of the stream layer.
modules_enabled = {
    "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "vcard"; "vcard_update";
    "register"; "private"; "blocklist"; "carbons"; "csi"; "smacks"; "version"; "time";
    "admin_adhoc"; "pep"; "bookmarks"; "vcard_legacy"; "mam"; "darknet";
}
modules_disabled = { }

-- In-band registration (XEP-0077, module "register"): anyone who can reach the server can
-- create an account (over TLS only while c2s_require_encryption is on). Logged-in users can
-- change their password and remove their account either way.
-- allow_registration = false
-- At most this many new accounts per period (seconds) on a host, over all connections: behind
-- i2pd every client comes from loopback, so a per-address limit would not tell them apart.
-- registration_throttle_max = 10
-- registration_throttle_period = 3600
-- (accepted) Prosody's per-address registration throttle:
-- min_seconds_between_registrations = 300
-- registration_whitelist = { "127.0.0.1" }

-- Account store. "internal_plain" is accepted too, but Clove always stores hashed keys only.
authentication = "internal_hashed"

-- Password guessing (every client arrives from loopback behind i2pd, so nothing is per
-- address; see docs/limits.md). Every SASL failure waits auth_failure_delay seconds. Checks of
-- one account (existing or not) run one at a time, over all connections: after a failed one
-- the next waits auth_throttle_delay seconds, doubling up to auth_throttle_max_delay; a
-- success, or 10 minutes without failures, forgets them. The real user gets in at most
-- auth_throttle_max_delay seconds after a guessing flood stops.
-- auth_failure_delay = 1
-- auth_throttle_delay = 1
-- auth_throttle_max_delay = 5
-- Accounts with recent failures tracked at most (about 300 bytes each):
-- auth_throttle_max_entries = 10000
-- PBKDF2/bcrypt computations at once (keep below UV_THREADPOOL_SIZE, 4 by default, so file
-- I/O keeps threads), and logins that may wait for them (more fail with temporary-auth-failure):
-- auth_hashing_concurrency = 2
-- auth_hashing_queue = 256

-- (accepted) Offer SASL PLAIN before TLS:
-- allow_unencrypted_plain_auth = false

---------- Encryption and server-to-server ----------

c2s_require_encryption = true
s2s_require_encryption = true
-- Keep false on I2P: peers have self-signed certificates, dialback authenticates them.
-- s2s_secure_auth = false
-- (accepted) Per-peer exceptions:
-- s2s_secure_domains = { "example.org" }
-- s2s_insecure_domains = { "example.net" }
-- tls_profile = "intermediate"

---------- Web clients (modules websocket and bosh) ----------

-- Browser clients such as converse.js, served as an eepsite (docs/web-clients.md): enable
-- "websocket" and/or "bosh" in modules_enabled; they answer on /xmpp-websocket and /http-bind
-- of the HTTP service. The HTTP service is on loopback and i2pd carries the connection
-- encrypted, so these count as encrypted for c2s_require_encryption:
-- consider_websocket_secure = true
-- consider_bosh_secure = true
-- Web pages of other origins that may connect: false (same origin), true, or { "http://…" }.
-- cross_domain_websocket = false
-- cross_domain_bosh = false
-- BOSH sessions: seconds without a request before the session ends, longest hold of one
-- request, requests open at once.
-- bosh_max_inactivity = 60
-- bosh_max_wait = 120
-- bosh_max_requests = 2

---------- I2P ----------

-- Send s2s only through i2pd's SOCKS proxy; nothing else leaves this machine. This is the
-- default; false allows clearnet federation (DNS + direct TCP to hosts a peer can name, which
-- reveals this server's address), and `clove check` warns about it.
darknet_only = true

-- i2pd's SOCKS5 proxy.
darknet_socks5_host = "127.0.0.1"
darknet_socks5_port = 4447

-- Clearnet domains reached through I2P, and subdomains of b32 servers (i2pd cannot resolve
-- conference.xxx.b32.i2p by itself):
darknet_map = {
    -- ["i2p.rocks"] = "ynkz7ebfkllljitiodcq52pa7fgqziomz4wa7tv4qiqldghpx4uq.b32.i2p";
    -- ["muc.i2p.rocks"] = { host = "ynkz7ebfkllljitiodcq52pa7fgqziomz4wa7tv4qiqldghpx4uq.b32.i2p"; port = 5269 };
}

---------- What the server says about itself ----------

-- Software version replies (XEP-0092) leave out the operating system, which helps tell who
-- runs a server. false shows the OS name (never the kernel release) to users of this server.
-- hide_os_type = true

-- What version replies tell other domains: "none", "name" (Clove, no version) or "version".
-- Users of this server always get the version.
-- version_to_remote = "name"

-- Legacy bookmarks (XEP-0048) already in private storage move to Bookmarks 2 (XEP-0402) when
-- their owner logs in (module "bookmarks"); false leaves them where they are.
-- upgrade_legacy_bookmarks = true

-- Extra items in the host's service discovery (XEP-0030 disco#items, module "disco"), each
-- { "jid" } or { "jid", "name" }, as in Prosody:
-- disco_items = { { "conference.localhost", "Chat rooms" } }

-- Contact addresses in service discovery (XEP-0157), published when "server_contact_info" is
-- in modules_enabled; unset, the admins are published as admin addresses:
-- contact_info = { admin = { "xmpp:admin@localhost" }; abuse = { "mailto:abuse@localhost" } }

-- The operator's view (docs/metrics.md). Add "http_openmetrics" to modules_enabled for the
-- OpenMetrics endpoint /metrics: requests from these addresses only, and never one that came
-- through an i2pd HTTP tunnel (i2pd's X-I2P-Dest* headers):
-- openmetrics_allow_ips = { "127.0.0.1", "::1" }
-- openmetrics_allow_cidr = { }
-- Add "http_status" for the status page /status, for admins only (HTTP login with an admin's
-- JID and password); true also serves it through an i2pd HTTP tunnel:
-- http_status_allow_i2p = false

---------- Community server: message of the day, welcome, invitations ----------

-- Message of the day (module "motd"), sent to each session at login, from motd_jid (the host):
-- motd_text = "Welcome to this server."
-- motd_jid = "localhost"
-- Message to every new account (module "welcome"); $username and $host are replaced:
-- welcome_message = "Hello $username, welcome to $host!"

-- Invitations (modules "invites", "invites_adhoc", "invites_register"; docs/invitations.md):
-- admins create links with the ad-hoc commands or `clove invite create HOST`, and an invitation
-- registers an account even with allow_registration = false.
-- invite_expiry = "1w"
-- invites_max_pending = 1000
-- Users (not only admins) may invite new accounts:
-- allow_user_invites = false
-- Every user may create contact invitations (XEP-0379):
-- allow_contact_invites = true

---------- Hosts ----------

VirtualHost "localhost"
    -- Set to false to keep the host defined but inactive.
    enabled = true
    -- ssl = { key = "../certs/localhost.key"; certificate = "../certs/localhost.crt" }

-- Components: their own domain, no accounts and no client logins; listed in the disco#items of
-- the VirtualHost they are a subdomain of, and federated like any host. On I2P see docs/i2p.md
-- ("Components over I2P"): a subdomain of a b32 name is reachable from Clove peers only.
-- An internal component names its module: "muc" (chat rooms, XEP-0045), "pubsub" (XEP-0060) or
-- "http_file_share" (file upload, XEP-0363, docs/http.md); one Clove does not have (proxy65, …) is one error line at start and answers
-- service-unavailable:
-- Component "conference.localhost" "muc"
--     name = "Chat rooms"
--     restrict_room_creation = "local"
--     modules_enabled = { "muc_mam" }   -- room history in MAM (XEP-0313), kept on disk; off unless listed
-- An external component (XEP-0114) connects to component_ports with its secret:
-- Component "gateway.localhost"
--     component_secret = "change me"
