// `clove cert generate HOST`: a self-signed certificate where the server will look for it.
import type { Config } from '../config/config.js';
import type { SslOptions } from '../config/schema.js';
import { ServerError } from '../core/errors.js';
import { certPaths, fingerprint, generateSelfSigned, writeAtomic } from '../net/certs.js';

export async function certGenerate(config: Config, args: string[]): Promise<void> {
  const [sub, host] = args;
  if (sub !== 'generate' || !host) throw new ServerError('usage', 'usage: clove cert generate HOST');
  const paths = certPaths(host, config.virtualHosts().includes(host) ? config.get<SslOptions | undefined>('ssl', host) : undefined, config.get<string>('certificates'));
  const { key, cert } = await generateSelfSigned(host, 3650);
  await writeAtomic(paths.key, key, 0o640);
  await writeAtomic(paths.certificate, cert, 0o644);
  process.stdout.write(`${paths.certificate}\n${paths.key}\nSHA-256 fingerprint ${fingerprint(cert)}\n`);
}
