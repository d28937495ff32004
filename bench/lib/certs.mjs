// A throw-away self-signed certificate for the benchmark host (both servers use the same one,
// so the TLS handshakes cost the same: RSA-2048, as Prosody's own `cert generate` makes).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** Writes <dir>/<host>.crt and <dir>/<host>.key with openssl; returns their paths. */
export function makeSelfSigned(dir, host) {
  fs.mkdirSync(dir, { recursive: true });
  const crt = `${dir}/${host}.crt`;
  const key = `${dir}/${host}.key`;
  const r = spawnSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30',
      '-keyout', key, '-out', crt,
      '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr || r.error}`);
  fs.chmodSync(key, 0o600);
  return { crt, key };
}
