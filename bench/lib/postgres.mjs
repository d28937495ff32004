// A throwaway PostgreSQL cluster for tests and benches: initdb in a temp directory, one postgres
// process listening on 127.0.0.1 at a free port (and on a Unix socket in the directory), a login
// role with a password (so clients connect as an operator's config would), stopped by its PID.
// Used by vitest's globalSetup (test/global-setup.ts, through test/helpers/postgres.ts) and by
// bench/sql.mjs and bench/migrate-storage.mjs.
//
// initdb refuses to run as root: as root, the cluster runs as the `postgres` user (Debian's
// package creates it) through runuser. A missing PostgreSQL fails loudly: tests never skip.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Where Debian puts the server binaries (the newest version found wins). */
const BIN_DIRS = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/14/bin', '/usr/lib/postgresql/13/bin'];

function binDir() {
  const found = BIN_DIRS.find((d) => existsSync(path.join(d, 'initdb')));
  if (!found) throw new Error(`PostgreSQL server binaries not found in ${BIN_DIRS.join(', ')}: install the Debian package postgresql (tests need a real server)`);
  return found;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** Start a cluster (`durable`: PostgreSQL's fsync stays on): { pg: { host, port, username, password, socketDir, binDir }, stop() }; `stop()` ends its postmaster by PID and removes the directory. */
export async function startPostgres({ durable = false } = {}) {
  const bin = binDir();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clove-pg-'));
  const data = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  // As root: run the server binaries as `postgres`, which must own the directory.
  const cmd = (file, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args]);
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
      throw new Error('running as root, and there is no postgres user to run PostgreSQL as (install the Debian package postgresql)');
    });
    const uid = Number(stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
  }
  await chmod(dir, 0o700);
  const password = 'clove-test-password';
  const pwFile = path.join(dir, 'pw');
  await writeFile(pwFile, password, { mode: 0o600 });
  if (asRoot) await chown(pwFile, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), 0);
  const [initFile, initArgs] = cmd(path.join(bin, 'initdb'), ['-D', data, '-U', 'clove', `--pwfile=${pwFile}`, '-E', 'UTF8', '--locale=C', '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync']);
  await run(initFile, initArgs, { timeout: 120_000 }).catch((e) => {
    throw new Error(`initdb failed: ${e.stderr ?? e.message}`);
  });
  await rm(pwFile);
  const port = await freePort();
  // fsync off unless `durable` (benches, to compare with fsynced files): the tests kill Clove, never PostgreSQL, so the server's own disk durability is not
  // what they check, and it spares the shared machine's disk.
  const [pgFile, pgArgs] = cmd(path.join(bin, 'postgres'), [
    '-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`,
    ...(durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off']), '-c', 'max_connections=200', '-c', 'shared_buffers=32MB',
  ]);
  const child = spawn(pgFile, pgArgs, { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let log = '';
  child.stderr.on('data', (b) => {
    log = (log + b.toString()).slice(-8000);
  });
  const info = { host: '127.0.0.1', port, username: 'clove', password, socketDir: dir, binDir: bin };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited (${child.exitCode}): ${log}`);
    const c = new pg.Client({ host: info.host, port, user: info.username, password, database: 'postgres' });
    try {
      await c.connect();
      await c.end();
      break;
    } catch (e) {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`postgres did not start: ${e.message}\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // The postmaster's own PID (under runuser, the child is runuser): its first line of postmaster.pid.
  const postmaster = Number((await readFile(path.join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, nothing waits for them.
      try {
        process.kill(postmaster, 'SIGINT');
      } catch {
        // already gone
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
      if (child.exitCode === null) {
        try {
          process.kill(postmaster, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  return { pg: info, stop };
}

