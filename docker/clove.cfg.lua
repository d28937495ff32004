-- Clove's configuration inside the container started by docker/compose.yaml.
-- Copied to /etc/clove/clove.cfg.lua by docker/Dockerfile; compose.yaml also mounts this file
-- there read-only, so an edit here needs only `docker compose up -d --force-recreate clove`.
-- Every option: config/clove.cfg.lua and docs/configuration.md. Walkthrough: docs/i2p.md.

-- 0.0.0.0 here means "every interface of this container", not of the host: the container has
-- only its loopback and one address on compose's private bridge network (clove-i2p,
-- 172.28.47.0/24). i2pd's server tunnels reach Clove at 172.28.47.10, which a 127.0.0.1 bind
-- would refuse. Nothing outside that network can connect, except what compose.yaml publishes:
-- only 127.0.0.1:5222 on the host, for a local client. Do not run this file outside a container.
interfaces = { "0.0.0.0" }
c2s_ports = { 5222 }
s2s_ports = { 5269 }

-- The volumes declared by docker/Dockerfile.
data_path = "/var/lib/clove"
certificates = "/etc/clove/certs"

-- To docker's log (docker compose logs clove).
log = { info = "*console" }

modules_enabled = {
    "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "vcard"; "vcard_update";
    "register"; "private"; "blocklist"; "carbons"; "csi"; "smacks"; "version"; "time";
    "admin_adhoc"; "darknet";
}
allow_registration = false
authentication = "internal_hashed"
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = false -- I2P peers have self-signed certificates; dialback authenticates them

-- Nothing but I2P leaves Clove: s2s goes only through i2pd's SOCKS5 proxy.
darknet_only = true
-- The i2pd service's fixed address on the compose network. Clove never resolves names (that
-- could leak a lookup to DNS), so this must be an IP literal, not the service name "i2pd".
darknet_socks5_host = "172.28.47.20"
darknet_socks5_port = 4447

-- Clearnet servers reached through I2P, and subdomains of b32 servers (i2pd cannot resolve
-- conference.xxx.b32.i2p); see docs/i2p.md.
darknet_map = {
    -- ["i2p.rocks"] = "ynkz7ebfkllljitiodcq52pa7fgqziomz4wa7tv4qiqldghpx4uq.b32.i2p";
    -- ["muc.i2p.rocks"] = "ynkz7ebfkllljitiodcq52pa7fgqziomz4wa7tv4qiqldghpx4uq.b32.i2p";
}

-- Replace xxx.b32.i2p with the address i2pd gave the server tunnel (docs/i2p.md, step 2).
admins = { "admin@xxx.b32.i2p" }

VirtualHost "xxx.b32.i2p"
    -- Looked up as /etc/clove/certs/xxx.b32.i2p.crt and .key (the certs volume); written by
    -- `clove cert generate xxx.b32.i2p`, or self-signed automatically on first start.
