// `clove import-prosody --from-sql` stopped halfway (Ctrl-C, or SIGTERM from a service manager)
// removes its temporary copy of Prosody's data, which holds every user's password hash.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/child-server.js';
import { writeImportConfig } from '../helpers/prosody-import.js';
import { writeProsodySqlite, type ArchiveValues } from '../helpers/prosody-sqlite.js';

const DOMAIN = 'interrupt.test';
const works: string[] = [];
afterAll(async () => {
  for (const w of works) await rm(w, { recursive: true, force: true });
});

/** 40 users with 2,500 archived messages each: an import of several seconds. */
function* archive(): Generator<ArchiveValues> {
  const now = Math.floor(Date.now() / 1000);
  for (let m = 0; m < 2500; m++) {
    for (let u = 0; u < 40; u++) yield [DOMAIN, `user${u}`, 'archive', `k${u}-${m}`, now - 2500 + m, `peer@${DOMAIN}`, 'xml', `<message xmlns="jabber:client" to="peer@${DOMAIN}" type="chat"><body>message ${m}</body></message>`];
  }
}

it.each(['SIGINT', 'SIGTERM'] as const)('removes its temporary copy of Prosody\'s data on %s', async (signal) => {
  const work = await mkdtemp(join(tmpdir(), 'clove-import-interrupt-'));
  works.push(work);
  const tmp = join(work, 'tmp'); // the child's TMPDIR: only its own temporary directory can appear here
  await mkdir(tmp);
  await writeProsodySqlite(join(work, 'prosody.sqlite'), {
    statements: [`INSERT INTO prosody VALUES ('${DOMAIN}', 'user0', 'accounts', 'password', 'string', 'secret-password')`],
    archive: archive(),
  });
  const prosodyCfg = join(work, 'prosody.cfg.lua');
  await writeFile(prosodyCfg, `data_path = ${JSON.stringify(work)}\nstorage = "sql"\n`);
  const cfg = await writeImportConfig(work, join(work, 'clove', 'data'), DOMAIN);

  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'clove.js'), '--config', cfg, 'import-prosody', '--from-sql', prosodyCfg], { cwd: REPO_ROOT, stdio: 'ignore', env: { ...process.env, TMPDIR: tmp } });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Wait until the export has written the account (with its password) into the temporary copy.
  const deadline = Date.now() + 30_000;
  let copy: string | undefined;
  while (Date.now() < deadline) {
    const [d] = (await readdir(tmp)).filter((n) => n.startsWith('clove-prosody-sql-'));
    if (d && (await readdir(join(tmp, d), { recursive: true })).some((f) => String(f).endsWith('user0.dat'))) {
      copy = d;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(copy, 'the import made its temporary copy').toBeDefined();
  child.kill(signal);
  expect(await exited).toBe(signal === 'SIGINT' ? 130 : 143);
  expect(await readdir(tmp)).toEqual([]);
}, 60_000);
