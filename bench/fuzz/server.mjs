// A Clove server process for the stanza fuzzer: a temp dir with config, certificate and three
// accounts; most c2s modules on; s2s only through a SOCKS5 port where nothing listens.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startServer, waitReady } from '../lib/proc.mjs';
import { makeSelfSigned } from '../lib/certs.mjs';
import { runWithInput } from '../lib/servers.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DOMAIN = 'localhost';
export const MODULES = ['roster', 'saslauth', 'tls', 'disco', 'ping', 'vcard', 'vcard_update', 'private', 'blocklist', 'carbons', 'csi', 'version', 'time', 'uptime', 'adhoc', 'admin_adhoc', 'darknet', 'offline', 'register'];

/** Starts bin/clove.js with its config in `dir`; resolves with { proc, port, users, logPath }. */
export async function startClove(dir) {
  const port = await freePort();
  const deadSocks = await freePort(); // nothing listens there: every s2s attempt fails at once, locally
  const certDir = path.join(dir, 'certs');
  makeSelfSigned(certDir, DOMAIN);
  const cfg = [
    'interfaces = { "127.0.0.1" }',
    'run_as_root = true',
    `c2s_ports = { ${port} }`,
    's2s_ports = { }',
    `data_path = ${JSON.stringify(path.join(dir, 'data'))}`,
    `certificates = ${JSON.stringify(certDir)}`,
    `log = { warn = ${JSON.stringify(path.join(dir, 'clove.log'))} }`,
    'authentication = "internal_hashed"',
    'clove_bcrypt_cost = 4',
    'c2s_require_encryption = true',
    'allow_registration = false',
    'darknet_only = true',
    's2s_send_deadline = 2', // an unreachable remote bounces within the check's window, not after 10 min
    `darknet_socks5_port = ${deadSocks}`,
    `modules_enabled = { ${MODULES.map((m) => JSON.stringify(m)).join('; ')} }`,
    `VirtualHost ${JSON.stringify(DOMAIN)}`,
    '',
  ].join('\n');
  const configPath = path.join(dir, 'clove.cfg.lua');
  fs.writeFileSync(configPath, cfg);
  const bin = path.join(REPO, 'bin', 'clove.js');
  const users = [0, 1, 2].map((k) => ({ user: `fuzz${k}`, password: `pw-${k}-${Math.random().toString(36).slice(2)}` }));
  await runWithInput([process.execPath, bin, 'adduser', '--batch', '--config', configPath], REPO, users.map((u) => `${u.user}@${DOMAIN} ${u.password}\n`).join(''), 120000);
  const proc = startServer({ argv: [process.execPath, bin, 'start', '--config', configPath], cwd: REPO, logPath: path.join(dir, 'clove.stdout') });
  await waitReady(proc, port, DOMAIN, 30000);
  return { proc, port, users, logPath: path.join(dir, 'clove.log') };
}
