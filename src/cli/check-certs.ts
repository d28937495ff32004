// The certificate part of `clove check`: open the key and certificate each enabled VirtualHost
// would use at start (the same paths as main.ts) and say what is wrong with them. Everything
// here is local file reading and X.509 parsing: no DNS, no network (checkHost only compares names).
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import type { SslOptions } from '../config/schema.js';
import { certPaths } from '../net/certs.js';

/** Warn this long before a certificate expires. */
const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

export interface CertProblem { level: 'error' | 'warning'; host: string; path: string; what: string }
export interface CertSummary { host: string; certificate: string; validTo: Date; fingerprint: string }
export interface CertReport { problems: CertProblem[]; hosts: CertSummary[] }

/** Check the certificate files of every enabled VirtualHost and Component (a component's follow the host rule). */
export async function checkCerts(config: Config, now = new Date()): Promise<CertReport> {
  const report: CertReport = { problems: [], hosts: [] };
  const hosts = config.hosts.map((h) => h.name).filter((h) => config.get<boolean>('enabled', h) !== false);
  for (const host of hosts) await checkHost(config, host, now, report);
  return report;
}

/** `error: HOST: PATH: what` / `warning: …`, one line each. */
export function formatProblem(p: CertProblem): string {
  return `${p.level}: ${p.host}: ${p.path}: ${p.what}`;
}

/** `HOST: PATH valid until DATE, SHA-256 AB:CD:…`. */
export function formatSummary(s: CertSummary): string {
  return `${s.host}: ${s.certificate} valid until ${s.validTo.toISOString()}, SHA-256 ${s.fingerprint}`;
}

async function checkHost(config: Config, host: string, now: Date, report: CertReport): Promise<void> {
  const ssl = config.get<SslOptions | undefined>('ssl', host);
  const paths = certPaths(host, ssl, config.get<string>('certificates'));
  const explicit = ssl?.key !== undefined; // as main.ts: configured files are never generated
  const error = (path: string, what: string): void => { report.problems.push({ level: 'error', host, path, what }); };
  const warning = (path: string, what: string): void => { report.problems.push({ level: 'warning', host, path, what }); };

  const [keyFile, certFile] = await Promise.all([readLocal(paths.key), readLocal(paths.certificate)]);
  if (keyFile.missing && certFile.missing && !explicit) {
    warning(paths.certificate, `no certificate yet (nor ${paths.key}); a self-signed pair will be generated at first start (or run 'clove cert generate ${host}' now)`);
    return;
  }
  for (const [path, file] of [[paths.key, keyFile], [paths.certificate, certFile]] as const) {
    if (file.missing) error(path, `file not found; fix the path${explicit ? ' in ssl' : ''} or run 'clove cert generate ${host}'`);
    else if (file.error) error(path, file.error);
  }

  let key: KeyObject | undefined;
  if (keyFile.text !== undefined) {
    try {
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyFile.text)) throw new Error('no PEM private key block');
      key = createPrivateKey(keyFile.text);
    } catch (err) {
      error(paths.key, `not a valid PEM private key (${oneLine(err)})`);
    }
    if (keyFile.mode !== undefined && (keyFile.mode & 0o004) !== 0) {
      warning(paths.key, `private key is readable by every user (mode ${(keyFile.mode & 0o777).toString(8).padStart(4, '0')}); chmod 640 it`);
    }
  }

  let cert: X509Certificate | undefined;
  if (certFile.text !== undefined) {
    try {
      if (!certFile.text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM CERTIFICATE block');
      cert = new X509Certificate(certFile.text);
    } catch (err) {
      error(paths.certificate, `not a valid PEM certificate (${oneLine(err)})`);
    }
  }
  if (!cert) return;

  if (key && !matches(cert, key)) error(paths.key, `key does not match the certificate ${paths.certificate}`);
  const validFrom = new Date(cert.validFrom);
  const validTo = new Date(cert.validTo);
  if (now < validFrom) error(paths.certificate, `certificate is not valid yet (valid from ${validFrom.toISOString()}); check the system clock`);
  if (now > validTo) {
    error(paths.certificate, `certificate expired on ${validTo.toISOString()}; run 'clove cert generate ${host}' or renew it`);
  } else if (validTo.getTime() - now.getTime() < EXPIRY_WARNING_DAYS * DAY_MS) {
    const days = Math.floor((validTo.getTime() - now.getTime()) / DAY_MS);
    warning(paths.certificate, `certificate expires on ${validTo.toISOString()} (in ${days} day(s))`);
  }
  // Name matching only (subject alt names, else CN); self-signed .i2p setups often differ.
  if (cert.checkHost(host) === undefined) {
    warning(paths.certificate, `certificate names (${certNames(cert)}) do not cover ${host}; clients will warn about it`);
  }
  report.hosts.push({ host, certificate: paths.certificate, validTo, fingerprint: cert.fingerprint256 });
}

interface LocalFile { missing?: true; error?: string; text?: string; mode?: number }

async function readLocal(path: string): Promise<LocalFile> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return { error: 'not a regular file' };
    return { text: await readFile(path, 'utf8'), mode: st.mode };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: true };
    if (code === 'EACCES' || code === 'EPERM') return { error: 'cannot be read (permission denied); the user running clove must be able to read it' };
    return { error: `cannot be read (${oneLine(err)})` };
  }
}

function matches(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false; // e.g. different key types
  }
}

function certNames(cert: X509Certificate): string {
  const san = cert.subjectAltName;
  if (san) return san;
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject);
  return cn ? `CN=${cn[1]}` : 'none';
}

function oneLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0] as string;
}
