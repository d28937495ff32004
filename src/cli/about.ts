// `clove about`: version, Node version, config file, hosts and modules — all local, no network.
// It also says, per host, how many accounts lack SCRAM-SHA-256 keys (imported from Prosody):
// while there are any, the host offers SCRAM-SHA-1 and PLAIN only. It reads, never writes.
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import { resolveModules } from '../modules/resolve.js';
import { openStorage } from '../main.js';
import { sha1OnlyUsers, type AccountRecord } from '../storage/accounts.js';

export async function about(config: Config): Promise<number> {
  let version = 'unknown';
  try {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    if (typeof pkg.version === 'string') version = pkg.version;
  } catch { /* keep "unknown" */ }
  const lines = [
    `Clove ${version}`,
    `Node.js ${process.version} (${process.platform} ${process.arch})`,
    `config: ${config.file}`,
    `data_path: ${config.get<string>('data_path')}`,
    `pidfile: ${config.get<string | undefined>('pidfile') ?? '(none)'}`,
  ];
  for (const host of config.virtualHosts()) {
    const modules = [...resolveModules(config, host).load].sort();
    lines.push(`host ${host}${config.get<boolean>('enabled', host) === false ? ' (disabled)' : ''}: ${modules.join(', ')}`);
  }
  if (config.get<string>('storage') !== 'memory') {
    const storage = await openStorage(config);
    try {
      for (const host of config.virtualHosts()) {
        let n: number | string;
        try {
          n = (await sha1OnlyUsers(storage.keyval<AccountRecord>(host, 'accounts'), false)).length;
        } catch (e) {
          n = `unknown (${(e as Error).message})`;
        }
        if (n !== 0) lines.push(`host ${host}: ${n} imported accounts lack SCRAM-SHA-256 keys; SCRAM-SHA-256 is not offered until they log in with PLAIN or change password`);
      }
    } finally {
      await storage.close();
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
