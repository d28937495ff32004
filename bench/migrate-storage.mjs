#!/usr/bin/env node
// `clove migrate-storage` at scale: N accounts (10,000 by default) with rosters, private XML and
// archives, files → PostgreSQL → files, timed, then every store compared with the original
// (test/e2e/migrate-storage.test.ts runs the same round trip with 300 accounts). Appends its
// figures to bench/RESULTS-sql.md.
//
//   npm run build && node bench/migrate-storage.mjs [--accounts N]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import * as cli from './lib/cli.mjs';
import { postgresSetup } from './lib/sql-setup.mjs';

const { createFileBackend } = await import('../dist/storage/file.js');
const { openSqlBackend } = await import('../dist/storage/sql/backend.js');
const { STORE_SHAPES } = await import('../dist/storage/shapes.js');

const { values: opt } = parseArgs({ options: { accounts: { type: 'string' } } });
const N = Number(opt.accounts ?? 10_000);
const say = (s) => console.log(`[migrate] ${s}`);
const { tmpRoot, removeTmp } = cli.benchTmpDir('migrate', 'clove-migrate-', false);

/** Every store of `host` as plain data. */
async function dump(b, host) {
  const out = {};
  for (const [store, shape] of Object.entries(STORE_SHAPES)) {
    const data = {};
    if (shape === 'keyval') {
      const kv = b.keyval(host, store);
      for (const u of await kv.users()) data[u] = await kv.get(u);
    } else if (shape === 'map') {
      for (const u of await b.mapUsers(host, store)) data[u] = await b.map(host, store).getAll(u);
    } else {
      const a = b.archive(host, store);
      for (const o of await a.owners()) data[o] = (await a.query(o, { limit: 1000 })).items.map((i) => [i.when, i.with, i.payload]);
    }
    out[store] = data;
  }
  return out;
}

const pgRun = await postgresSetup(say);
try {
  const lines = await pgRun.configLines('clove_migrate');
  const first = path.join(tmpRoot, 'data1');
  const second = path.join(tmpRoot, 'data2');
  const cfgText = (data) => [`data_path = ${JSON.stringify(data)}`, 'run_as_root = true', 'log = "error"', lines[1], 'VirtualHost "localhost"', ''].join('\n');
  fs.writeFileSync(path.join(tmpRoot, 'a.cfg.lua'), cfgText(first));
  fs.writeFileSync(path.join(tmpRoot, 'b.cfg.lua'), cfgText(second));

  let t = Date.now();
  const b = createFileBackend(first);
  const users = Array.from({ length: N }, (_, i) => `user${i}`);
  for (let i = 0; i < N; i += 200) {
    await Promise.all(users.slice(i, i + 200).map(async (u, j) => {
      const n = i + j;
      await b.keyval('localhost', 'accounts').set(u, { scram: { sha1: { salt: `s${n}`, iterations: 4096, storedKey: `k${n}`, serverKey: `v${n}` } }, bcrypt: `$2b$04$${n}`, created: 1_700_000_000_000 + n });
      await b.keyval('localhost', 'roster').set(u, { version: n, items: { [`friend${n}@example.net`]: { subscription: 'both', groups: ['g'], name: `F ${n}` } }, pending: {} });
      if (n % 10 === 0) await b.map('localhost', 'private').set(u, 'x urn:example', { n: 'x', a: { xmlns: 'urn:example' }, c: [`note ${n}`] });
      if (n % 100 === 0) for (let k = 0; k < 20; k++) await b.archive('localhost', 'archive').append(u, { with: `peer${k}@example.net`, payload: `<message><body>${k}</body></message>`, when: 1_750_000_000_000 + k });
    }));
  }
  await b.close();
  say(`filled ${N} accounts (+ ${N} rosters, ${N / 10} private maps, ${N / 100} archives of 20) in ${Date.now() - t} ms`);

  const run = (cfg, from, to) => {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [path.join(cli.REPO, 'bin/clove.js'), '--config', path.join(tmpRoot, cfg), 'migrate-storage', from, to], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`migrate-storage ${from} ${to} failed: ${r.stderr}`);
    return Date.now() - t0;
  };
  const toSql = run('a.cfg.lua', 'file', 'sql');
  say(`files → PostgreSQL: ${toSql} ms`);
  const back = run('b.cfg.lua', 'sql', 'file');
  say(`PostgreSQL → files: ${back} ms`);

  t = Date.now();
  const [orig, sql, again] = [createFileBackend(first), await openSqlBackend({ driver: 'PostgreSQL', ...pgRun.sqlOptions('clove_migrate') }), createFileBackend(second)];
  const want = await dump(orig, 'localhost');
  const same = isDeepStrictEqual(await dump(sql, 'localhost'), want) && isDeepStrictEqual(await dump(again, 'localhost'), want);
  await Promise.all([orig.close(), sql.close(), again.close()]);
  say(`compared every store in ${Date.now() - t} ms: ${same ? 'identical' : 'DIFFERENT'}`);
  const md = [
    '',
    '## clove migrate-storage, 10,000-account round trip',
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run build && node bench/migrate-storage.mjs${N !== 10_000 ? ` --accounts ${N}` : ''}\`: ${N} accounts, ${N} rosters, ${N / 10} private XML maps and ${N / 100} archives of 20 messages.`,
    '',
    `| files → PostgreSQL | PostgreSQL → files | data after the round trip |`,
    '|---|---|---|',
    `| ${(toSql / 1000).toFixed(1)} s | ${(back / 1000).toFixed(1)} s | ${same ? 'identical (every store compared)' : 'DIFFERENT'} |`,
    '',
  ];
  fs.appendFileSync(path.join(cli.BENCH_DIR, 'RESULTS-sql.md'), md.join('\n'));
  if (!same) process.exitCode = 1;
} finally {
  await pgRun.stop();
  removeTmp();
}
