// `clove about`: version, Node version, config file, hosts and modules — all local, no network.
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import { resolveModules } from '../modules/index.js';

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
    const modules = resolveModules(config, host).load.map((m) => m.name).sort();
    lines.push(`host ${host}${config.get<boolean>('enabled', host) === false ? ' (disabled)' : ''}: ${modules.join(', ')}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
