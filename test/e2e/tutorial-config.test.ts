// The I2P tutorial's prosody.cfg.lua runs under Clove: only its b32 address and absolute
// paths are replaced (with a test name and a temp dir), and lines are added for what a test
// needs (ports 0, a data dir); then a user logs in. One case adds run_as_root (tests run as
// root); the other keeps the tutorial's lines as they are and runs every command as an
// unprivileged user (`nobody` when the tests run as root), as an operator's service user would.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/child-server.js';
import { Wire } from '../helpers/wire.js';

const run = promisify(execFile);
const CLOVE = join(REPO_ROOT, 'bin', 'clove.js');
const HOST = 't'.repeat(52) + '.b32.i2p';
const IS_ROOT = process.getuid?.() === 0;
const dirs: string[] = [];
afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

/** Who runs the clove commands: `uid`/`gid` for spawn (root only), or the test's own user. */
interface RunAs { name: string; uid: number; gid: number; spawn: { uid?: number; gid?: number } }

/** A temp dir with the tutorial's config (paths replaced) plus `extra` lines; owned by `user`. */
async function tutorialSetup(extra: string[], user?: RunAs): Promise<{ dir: string; cfg: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'clove-tutorial-'));
  dirs.push(dir);
  const tutorial = await readFile(join(REPO_ROOT, 'config', 'prosody.cfg.lua'), 'utf8');
  const text = tutorial
    .replaceAll('xxx.b32.i2p', HOST)
    .replace('/var/run/prosody/prosody.pid', join(dir, 'clove.pid'))
    .replace('/var/log/prosody/prosody.err', join(dir, 'clove.err'))
    .replaceAll('/etc/prosody/certs/', join(dir, 'certs') + '/');
  expect(text).not.toMatch(/\/etc\/|\/var\//);
  const cfg = join(dir, 'prosody.cfg.lua');
  await writeFile(cfg, ['c2s_ports = { 0 }', 's2s_ports = { 0 }', `data_path = ${JSON.stringify(join(dir, 'data'))}`, ...extra, text].join('\n'));
  if (user?.spawn.uid !== undefined) for (const p of [dir, cfg]) await chown(p, user.uid, user.gid); // mkdtemp made it 0700
  return { dir, cfg };
}

/** `clove cert generate` and `clove register admin`, as `user` (HOME = the temp dir). */
async function certAndAccount(dir: string, cfg: string, user?: RunAs): Promise<void> {
  const opts = { cwd: dir, env: { ...process.env, HOME: dir }, ...user?.spawn };
  await run(process.execPath, [CLOVE, 'cert', 'generate', HOST, '--config', cfg], opts);
  await run(process.execPath, [CLOVE, 'register', 'admin', HOST, 'admin-pw', '--config', cfg], opts);
}

/** `clove start -F` as `user`; resolves once its c2s port is logged. */
async function startForeground(dir: string, cfg: string, user?: RunAs): Promise<{ child: ChildProcess; port: number; stderr: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [CLOVE, 'start', '-F', '--config', cfg], { cwd: dir, env: { ...process.env, HOME: dir }, stdio: ['ignore', 'ignore', 'pipe'], ...user?.spawn });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async (): Promise<number | null> => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGTERM');
    return exited;
  };
  let stderr = '';
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no c2s port in 20 s; stderr:\n${stderr}`)), 20_000);
      child.once('error', reject);
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString('utf8');
        const m = /c2s listening on 127\.0\.0\.1:(\d+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => reject(new Error(`clove exited early (${code}); stderr:\n${stderr}`)));
    });
    return { child, port, stderr: () => stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** admin logs in, and what Pidgin asks at login is answered by the modules the tutorial enables. */
async function loginAsAdmin(port: number): Promise<void> {
  const c = await Wire.login({ port, domain: HOST, username: 'admin', password: 'admin-pw', resource: 'pidgin' });
  expect(c.jid).toBe(`admin@${HOST}/pidgin`);
  // The tutorial enables roster and vcard (not ping).
  const roster = await c.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
  expect(roster.attrs.type).toBe('result');
  const info = await c.iq(`<iq type='get' to='${HOST}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
  const features = info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
  expect(features).toEqual(expect.arrayContaining(['vcard-temp', 'jabber:iq:private', 'http://jabber.org/protocol/commands']));
  await c.close();
}

/** The unprivileged user to run as: `nobody` from /etc/passwd when root, else the current user. */
async function unprivilegedUser(): Promise<RunAs | string> {
  if (!IS_ROOT) return { name: 'the current user', uid: process.getuid!(), gid: process.getgid!(), spawn: {} };
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const entry = passwd.split('\n').map((l) => l.split(':')).find((f) => f[0] === 'nobody');
  if (!entry) return 'the tests run as root and /etc/passwd has no "nobody" user to run Clove as';
  const uid = Number(entry[2]);
  const gid = Number(entry[3]);
  return { name: `nobody (uid ${uid})`, uid, gid, spawn: { uid, gid } };
}

/** Fail with a clear message when `user` cannot read what `node bin/clove.js` loads. */
async function expectCloveReadableBy(user: RunAs): Promise<void> {
  const paths = [CLOVE, join(REPO_ROOT, 'dist', 'cli', 'index.js'), join(REPO_ROOT, 'dist', 'main.js'), join(REPO_ROOT, 'node_modules', 'pino', 'package.json')];
  const script = `const fs = require('fs'); const bad = []; for (const p of ${JSON.stringify(paths)}) { try { fs.accessSync(p, fs.constants.R_OK); } catch (e) { bad.push(p + ' (' + e.code + ')'); } } process.stdout.write(bad.join(', '));`;
  let bad: string;
  try {
    bad = (await run(process.execPath, ['-e', script], { cwd: tmpdir(), ...user.spawn })).stdout;
  } catch (err) {
    throw new Error(`${user.name} cannot run ${process.execPath}: ${(err as Error).message}`);
  }
  if (bad) throw new Error(`${user.name} cannot read Clove's files under ${REPO_ROOT}: ${bad}; make the checkout readable by other users (chmod -R o+rX) to run this test`);
}

describe("the tutorial's prosody.cfg.lua", () => {
  it('starts (in the foreground with -F), and a user created with clove register logs in', async () => {
    const { dir, cfg } = await tutorialSetup(['run_as_root = true']);
    await certAndAccount(dir, cfg);
    const server = await startForeground(dir, cfg);
    try {
      await loginAsAdmin(server.port);
      // Every module the tutorial enables exists in Clove: no "not available" warning.
      expect(server.stderr()).not.toMatch(/is not available in Clove/);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 40_000);

  it.skipIf(!IS_ROOT)('as root, without run_as_root, start -F is refused with exit 1 and one line naming run_as_root', async () => {
    const { dir, cfg } = await tutorialSetup([]);
    const r = await run(process.execPath, [CLOVE, 'start', '-F', '--config', cfg], { cwd: dir }).then(
      (ok) => ({ code: 0, ...ok }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(r.code).toBe(1); // ServerError('usage') → exit 1
    expect(r.stderr).toMatch(/^clove: refusing to run as root; .*run_as_root = true.*\n$/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(await readdir(dir)).toEqual(['prosody.cfg.lua']); // no pidfile, log or data left behind
  }, 20_000);

  it('runs verbatim (no run_as_root) as an unprivileged user; what Clove writes is theirs and not world-readable', async (ctx) => {
    const user = await unprivilegedUser();
    if (typeof user === 'string') return ctx.skip(user);
    await expectCloveReadableBy(user);
    const { dir, cfg } = await tutorialSetup([], user);
    expect(await readFile(cfg, 'utf8')).not.toMatch(/run_as_root/);
    await certAndAccount(dir, cfg, user);
    const server = await startForeground(dir, cfg, user);
    try {
      await loginAsAdmin(server.port);
      expect(server.stderr()).not.toMatch(/refusing to run as root/);
      // While it runs: the pidfile, the error log, the data and the certificate and key.
      const created = (await readdir(dir, { recursive: true })).filter((p) => p !== 'prosody.cfg.lua').sort();
      for (const p of ['clove.pid', 'clove.err', 'data', join('certs', `${HOST}.key`), join('certs', `${HOST}.crt`)]) expect(created).toContain(p);
      expect(created.some((p) => p.startsWith(join('data', '')) && p.endsWith('admin.json'))).toBe(true);
      // umask 027 gives others nothing; only the certificate is public (clove cert generate makes it 0644).
      const wrong: string[] = [];
      for (const p of created) {
        const st = await stat(join(dir, p));
        const forOthers = p.endsWith('.crt') ? 0o003 : 0o007;
        if (st.uid !== user.uid || st.gid !== user.gid) wrong.push(`${p} is owned by ${st.uid}:${st.gid}`);
        if (st.mode & forOthers) wrong.push(`${p} has mode 0${(st.mode & 0o777).toString(8)}`);
      }
      expect(wrong, `what Clove wrote under ${dir} must belong to ${user.name}, gid ${user.gid}, and be closed to others`).toEqual([]);
      expect((await readFile(join(dir, 'clove.pid'), 'utf8')).trim()).toBe(String(server.child.pid));
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 60_000);
});
