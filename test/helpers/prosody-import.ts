// What the `clove import-prosody` e2e tests share: a copy of a stopped-or-running Prosody's data
// directory, and a Clove config whose data lands next to it.
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startProsody, type ProsodyOptions, type ProsodyServer } from './prosody.js';
import { TEST_CERT_DIR } from './server.js';

/**
 * Start Prosody, let `use` make it write its data, copy the data directory to
 * <work>/prosody-data (what the import reads), stop Prosody; returns the copy's path.
 */
export async function writeProsodyData(opts: ProsodyOptions, work: string, use: (prosody: ProsodyServer) => Promise<void>): Promise<string> {
  let prosody: ProsodyServer | undefined;
  try {
    prosody = await startProsody(opts);
    await use(prosody);
    const to = join(work, 'prosody-data');
    await cp(join(prosody.dir, 'data'), to, { recursive: true });
    return to;
  } finally {
    await prosody?.stop();
  }
}

/** Write <work>/clove.cfg.lua serving `domain` with its data in `dataPath`; returns the file. */
export async function writeImportConfig(work: string, dataPath: string, domain: string, storageLines: readonly string[] = []): Promise<string> {
  const cfg = join(work, 'clove.cfg.lua');
  await writeFile(cfg, [`data_path = ${JSON.stringify(dataPath)}`, `certificates = ${JSON.stringify(TEST_CERT_DIR)}`, 'clove_bcrypt_cost = 4', ...storageLines, `VirtualHost "${domain}"`, ''].join('\n'));
  return cfg;
}
