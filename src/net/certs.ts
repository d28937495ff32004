// Certificates for each host: from `ssl = { key; certificate }`, else `<certificates>/<host>.crt`
// and `.key`; generated (self-signed) when neither exists, as Prosody's `cert generate` would.
import { generateKeyPair, X509Certificate, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, open } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { promisify } from 'node:util';
import { ServerError } from '../core/errors.js';

const genKeyPair = promisify(generateKeyPair);

export interface CertPaths { key: string; certificate: string }
export interface LoadedCert { key: string; cert: string; fingerprint: string; paths: CertPaths; generated: boolean }

/** Where a host's key and certificate live, from its config. */
export function certPaths(host: string, ssl: { key?: string; certificate?: string } | undefined, certDir: string): CertPaths {
  if (ssl?.key && ssl?.certificate) return { key: ssl.key, certificate: ssl.certificate };
  return { key: join(certDir, `${host}.key`), certificate: join(certDir, `${host}.crt`) };
}

/** SHA-256 fingerprint of a PEM certificate, as clients show it (AB:CD:…). */
export function fingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/**
 * Read a host's certificate, generating a self-signed one when both files are missing.
 * Explicitly configured (ssl) files that are missing are an error, never silently replaced.
 */
export async function loadOrCreateCert(host: string, paths: CertPaths, opts: { explicit: boolean; days?: number }): Promise<LoadedCert> {
  const [key, cert] = await Promise.all([readMaybe(paths.key), readMaybe(paths.certificate)]);
  if (key !== undefined && cert !== undefined) {
    try {
      return { key, cert, fingerprint: fingerprint(cert), paths, generated: false };
    } catch (err) {
      throw new ServerError('certificate', `${paths.certificate}: not a valid PEM certificate (${(err as Error).message})`);
    }
  }
  if (opts.explicit || key !== undefined || cert !== undefined) {
    const missing = key === undefined ? paths.key : paths.certificate;
    throw new ServerError('certificate', `${missing}: file not found (host ${host}); fix the path or run 'clove cert generate ${host}'`);
  }
  const made = await generateSelfSigned(host, opts.days ?? 3650);
  await writeAtomic(paths.key, made.key, 0o600);
  await writeAtomic(paths.certificate, made.cert, 0o644);
  return { key: made.key, cert: made.cert, fingerprint: fingerprint(made.cert), paths, generated: true };
}

/** A self-signed certificate for `host` (RSA 2048, SHA-256, SAN dNSName + xmppAddr-free). */
export async function generateSelfSigned(host: string, days: number): Promise<{ key: string; cert: string }> {
  // The key pair comes from Node's native crypto (off the event loop); node-forge builds the X.509.
  // Loaded here, not at start: it costs ~4.5 MiB of heap and code that a server with its
  // certificates never needs.
  const { default: forge } = await import('node-forge');
  const { privateKey, publicKey } = await genKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const c = forge.pki.createCertificate();
  c.publicKey = forge.pki.publicKeyFromPem(publicKey);
  c.serialNumber = '01' + randomBytes(15).toString('hex');
  const now = new Date();
  c.validity.notBefore = new Date(now.getTime() - 60_000);
  c.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
  // The host name and nothing else: a product or organisation name would set this server apart
  // from others on I2P (and tell which software runs it) to anyone who opens a TLS connection.
  const attrs = [{ name: 'commonName', value: host }];
  c.setSubject(attrs);
  c.setIssuer(attrs);
  c.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: host }, { type: 2, value: `*.${host}` }] },
  ]);
  c.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { key: privateKey, cert: forge.pki.certificateToPem(c) };
}

async function readMaybe(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ServerError('certificate', `${path}: ${(err as Error).message}`);
  }
}

/** Write a file atomically with the given mode (temp file, fsync, rename). */
export async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

