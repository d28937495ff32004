#!/usr/bin/env node
// `clove import-prosody --from-sql` at scale: a Prosody SQL storage of N users (20 by default)
// with M archived messages each (5,000 by default: 100,000 in all), plus their accounts and
// rosters, in the rows mod_storage_sql writes (Prosody 0.12: `prosody` and `prosodyarchive`), on
// SQLite (Prosody's default driver; the database file written with sql.js) and on PostgreSQL (a
// cluster started for the run). Each import runs as its own process: wall time, messages per
// second and the process's peak RSS (VmHWM) are recorded, then every user's archive in Clove is
// counted. Appends its figures to bench/RESULTS-sql.md.
//
//   npm run build && node bench/import-prosody-sql.mjs [--users N] [--messages M] [--no-write]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import initSqlJs from 'sql.js';
import * as cli from './lib/cli.mjs';
import { statusKiB } from './lib/proc.mjs';
import { postgresSetup } from './lib/sql-setup.mjs';

const { createFileBackend } = await import('../dist/storage/file.js');

const { values: opt } = parseArgs({ options: { users: { type: 'string' }, messages: { type: 'string' }, 'no-write': { type: 'boolean', default: false } } });
const USERS = Number(opt.users ?? 20);
const MESSAGES = Number(opt.messages ?? 5000);
const HOST = 'localhost';
const say = (s) => console.log(`[import-sql] ${s}`);
const { tmpRoot, removeTmp } = cli.benchTmpDir('import-sql', 'clove-import-sql-', false);

// mod_storage_sql's tables (Prosody 0.12, util/sql.lua's create_table): sort_id is the archive's order.
const KEYVAL_TABLE = '"host" TEXT, "user" TEXT, "store" TEXT, "key" TEXT, "type" TEXT, "value" TEXT';
const ARCHIVE_COLUMNS = '"host" TEXT, "user" TEXT, "store" TEXT, "key" TEXT, "when" INTEGER, "with" TEXT, "type" TEXT, "value" TEXT';

/** Every row, as mod_auth_internal_hashed, mod_roster and mod_mam store them. */
function* keyvalRows() {
  for (let u = 0; u < USERS; u++) {
    const user = `user${u}`;
    // internal_hashed: hex SCRAM-SHA-1 keys of a made-up password (the import keeps them as they are).
    yield [HOST, user, 'accounts', 'salt', 'string', `2c9a6c5e-0000-4000-8000-${String(u).padStart(12, '0')}`];
    yield [HOST, user, 'accounts', 'iteration_count', 'number', '10000'];
    yield [HOST, user, 'accounts', 'stored_key', 'string', 'a'.repeat(40)];
    yield [HOST, user, 'accounts', 'server_key', 'string', 'b'.repeat(40)];
    yield [HOST, user, 'roster', `user${(u + 1) % USERS}@${HOST}`, 'json', '{"subscription":"both","groups":{"Friends":true},"name":"Next"}'];
    yield [HOST, user, 'roster', '', 'json', '{"__hash":[false,{"version":1}]}'];
  }
}

const now = Math.floor(Date.now() / 1000);
/** The archive in Prosody's insertion order: users' messages interleaved, as a busy server writes them. */
function* archiveRows() {
  for (let m = 0; m < MESSAGES; m++) {
    for (let u = 0; u < USERS; u++) {
      const peer = `user${(u + 1) % USERS}@${HOST}`;
      const body = `message ${m} from user${u}: the quick brown fox jumps over the lazy dog`;
      yield [HOST, `user${u}`, 'archive', `k-${u}-${m}`, now - MESSAGES + m, peer,
        'xml', `<message xmlns="jabber:client" to="${peer}" type="chat" id="m${u}-${m}" from="user${u}@${HOST}/phone"><body>${body}</body></message>`];
    }
  }
}

async function writeSqlite(file) {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run(`CREATE TABLE "prosody" (${KEYVAL_TABLE})`);
  db.run(`CREATE TABLE "prosodyarchive" ("sort_id" INTEGER PRIMARY KEY AUTOINCREMENT, ${ARCHIVE_COLUMNS})`);
  db.run('BEGIN');
  const kv = db.prepare('INSERT INTO "prosody" VALUES (?, ?, ?, ?, ?, ?)');
  for (const r of keyvalRows()) kv.run(r);
  kv.free();
  const ar = db.prepare('INSERT INTO "prosodyarchive" ("host", "user", "store", "key", "when", "with", "type", "value") VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  for (const r of archiveRows()) ar.run(r);
  ar.free();
  db.run('COMMIT');
  fs.writeFileSync(file, db.export());
  db.close();
}

async function writePostgres(options) {
  const c = new pg.Client({ ...options, user: options.username });
  await c.connect();
  try {
    await c.query(`CREATE TABLE "prosody" (${KEYVAL_TABLE})`);
    await c.query(`CREATE TABLE "prosodyarchive" ("sort_id" BIGSERIAL PRIMARY KEY, ${ARCHIVE_COLUMNS})`);
    const insert = async (table, columns, rows) => {
      const params = rows.flat();
      const tuples = rows.map((r, i) => `(${r.map((_, j) => `$${i * r.length + j + 1}`).join(', ')})`);
      await c.query(`INSERT INTO "${table}" ${columns} VALUES ${tuples.join(', ')}`, params);
    };
    await insert('prosody', '', [...keyvalRows()]);
    let batch = [];
    for (const r of archiveRows()) {
      batch.push(r);
      if (batch.length === 1000) await insert('prosodyarchive', '("host", "user", "store", "key", "when", "with", "type", "value")', batch), (batch = []);
    }
    if (batch.length) await insert('prosodyarchive', '("host", "user", "store", "key", "when", "with", "type", "value")', batch);
  } finally {
    await c.end();
  }
}

/** Run the import as its own process; wall time and peak RSS (VmHWM, polled every 50 ms). */
function runImport(prosodyCfg, cloveCfg) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [path.join(cli.REPO, 'bin/clove.js'), '--config', cloveCfg, 'import-prosody', '--from-sql', prosodyCfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let peakKiB = 0;
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const poll = setInterval(() => {
      const hwm = statusKiB(child.pid, 'VmHWM');
      if (Number.isFinite(hwm)) peakKiB = Math.max(peakKiB, hwm);
    }, 50);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      const ms = Date.now() - t0;
      if (code !== 0) reject(new Error(`import-prosody exited ${code}: ${out}`));
      else resolve({ ms, peakKiB, out });
    });
  });
}

/** Messages in every user's archive in Clove. */
async function countArchived(dataPath) {
  const b = createFileBackend(dataPath);
  try {
    let n = 0;
    for (let u = 0; u < USERS; u++) n += (await b.archive(HOST, 'archive').metadata(`user${u}`)).count;
    return n;
  } finally {
    await b.close();
  }
}

const cloveConfig = (name) => {
  const file = path.join(tmpRoot, `${name}.cfg.lua`);
  // Clove keeps 10,000 messages per account by default (as Prosody): room for every one imported.
  const limit = MESSAGES > 10_000 ? [`storage_archive_item_limit = ${MESSAGES}`] : [];
  fs.writeFileSync(file, [`data_path = ${JSON.stringify(path.join(tmpRoot, `${name}-data`))}`, 'log = "error"', ...limit, `VirtualHost "${HOST}"`, ''].join('\n'));
  return { file, dataPath: path.join(tmpRoot, `${name}-data`) };
};

const total = USERS * MESSAGES;
const results = [];
let dbBytes = 0;
const pgRun = await postgresSetup(say);
try {
  // SQLite: Prosody's default, prosody.sqlite in its data_path.
  const prosodyData = path.join(tmpRoot, 'prosody-data');
  fs.mkdirSync(prosodyData);
  let t = Date.now();
  await writeSqlite(path.join(prosodyData, 'prosody.sqlite'));
  dbBytes = fs.statSync(path.join(prosodyData, 'prosody.sqlite')).size;
  say(`SQLite database: ${USERS} users, ${total} archived messages, ${(dbBytes / 1048576).toFixed(1)} MiB, written in ${Date.now() - t} ms`);
  fs.writeFileSync(path.join(tmpRoot, 'prosody-sqlite.cfg.lua'), `data_path = ${JSON.stringify(prosodyData)}\nstorage = "sql"\n`);

  // PostgreSQL: the same rows.
  const lines = await pgRun.configLines('prosody_import');
  t = Date.now();
  await writePostgres({ ...pgRun.sqlOptions('prosody_import'), host: pgRun.info.socketDir });
  say(`PostgreSQL database: the same rows, written in ${Date.now() - t} ms`);
  fs.writeFileSync(path.join(tmpRoot, 'prosody-pg.cfg.lua'), `${lines[1]}\n`);

  for (const [label, prosodyCfg] of [['SQLite', 'prosody-sqlite.cfg.lua'], ['PostgreSQL', 'prosody-pg.cfg.lua']]) {
    const clove = cloveConfig(label.toLowerCase());
    const r = await runImport(path.join(tmpRoot, prosodyCfg), clove.file);
    const archived = await countArchived(clove.dataPath);
    say(`${label}: ${r.ms} ms, ${Math.round(total / (r.ms / 1000))} messages/s, peak RSS ${(r.peakKiB / 1024).toFixed(0)} MiB, ${archived}/${total} messages in Clove`);
    if (archived !== total) throw new Error(`${label}: ${archived} of ${total} messages arrived:\n${r.out}`);
    results.push({ label, ...r, archived });
  }
} finally {
  await pgRun.stop();
  removeTmp();
}

const md = [
  '',
  '## clove import-prosody --from-sql: a Prosody on SQLite and on PostgreSQL',
  '',
  `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run build && node bench/import-prosody-sql.mjs${USERS !== 20 ? ` --users ${USERS}` : ''}${MESSAGES !== 5000 ? ` --messages ${MESSAGES}` : ''}\`: ` +
    `${USERS} users with an account, a roster item and ${MESSAGES} archived messages each (${total} in all) in mod_storage_sql's tables; ` +
    `the SQLite file (${(dbBytes / 1048576).toFixed(1)} MiB) is read whole by sql.js, PostgreSQL 1,000 archive rows at a time. Each import is one \`clove\` process into Clove's file storage.`,
  '',
  '| Prosody on | wall time | messages/s | peak RSS of the import | messages in Clove |',
  '|---|---|---|---|---|',
  ...results.map((r) => `| ${r.label} | ${(r.ms / 1000).toFixed(1)} s | ${Math.round(total / (r.ms / 1000)).toLocaleString('en-US')} | ${(r.peakKiB / 1024).toFixed(0)} MiB | ${r.archived.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} |`),
  '',
];
if (opt['no-write']) console.log(md.join('\n'));
else fs.appendFileSync(path.join(cli.BENCH_DIR, 'RESULTS-sql.md'), md.join('\n'));
