// The real `clove` command as a child process: account commands with --password-stdin then a
// login, register/unregister, the pidfile (written at start, a second start refused, a stale one
// replaced, removed on exit), stop and status, about, and SIGTERM's system-shutdown without data
// loss, start -D, restart and SIGHUP. Children listen on 127.0.0.1 port 0 and are killed by PID afterwards.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeChildDir, runClove, startChild, writeChildConfig, type ChildServer } from '../helpers/child-server.js';
import { Wire, match } from '../helpers/wire.js';

const children: ChildServer[] = [];
const dirs: string[] = [];
/** PIDs of detached servers (not our children): killed by PID if a test left them running. */
const afterPids: number[][] = [];

afterAll(async () => {
  for (const c of children) await c.kill('SIGKILL');
  for (const pid of afterPids.flat()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch { /* already gone */ }
  }
  for (const d of dirs) await removeChildDir(d);
});

/** Run `clove ARGS` with `input` on stdin. */
const clove = runClove;

/** Resolves once the child has logged that it wrote its pidfile (after its listeners are up). */
const pidfileWritten = (c: ChildServer): Promise<unknown> => c.waitForLog((l) => /^pidfile .* written \(PID \d+\)$/.test(l.msg));

async function child(extra = 'pidfile = "clove.pid"'): Promise<ChildServer> {
  const c = await startChild({ extra });
  children.push(c);
  dirs.push(c.dir);
  if (extra.includes('pidfile')) await pidfileWritten(c);
  return c;
}

/** A process's environment, as the kernel holds it (/proc/PID/environ). */
const environOf = (pid: number): string[] => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');

const canLogin = (port: number, username: string, password: string): Promise<boolean> =>
  Wire.login({ port, username, password, resource: 'r' }).then(async (c) => { await c.close(); return true; }, () => false);

describe('clove account commands', () => {
  it('adduser / passwd / deluser with --password-stdin, then a login', async () => {
    const s = await child();
    const cfg = ['--config', s.configPath];
    let r = await clove([...cfg, 'adduser', 'alice@localhost', '--password-stdin'], 'first-pass\n');
    expect(r.code, r.stderr).toBe(0);
    expect(await canLogin(s.port, 'alice', 'first-pass')).toBe(true);
    r = await clove([...cfg, 'adduser', 'alice@localhost', '--password-stdin'], 'again\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^clove: alice@localhost already exists\n$/);
    r = await clove([...cfg, 'passwd', 'alice@localhost', '--password-stdin'], 'second-pass\n');
    expect(r.code, r.stderr).toBe(0);
    expect(await canLogin(s.port, 'alice', 'first-pass')).toBe(false);
    expect(await canLogin(s.port, 'alice', 'second-pass')).toBe(true);
    r = await clove([...cfg, 'deluser', 'alice@localhost']);
    expect(r.code, r.stderr).toBe(0);
    expect(await canLogin(s.port, 'alice', 'second-pass')).toBe(false);
    r = await clove([...cfg, 'deluser', 'alice@localhost']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('clove: alice@localhost does not exist\n');
  }, 30_000);

  it('register USER HOST PASSWORD and unregister USER HOST', async () => {
    const s = await child();
    const cfg = ['--config', s.configPath];
    let r = await clove([...cfg, 'register', 'bob', 'localhost', 'bob-pass']);
    expect(r.code, r.stderr).toBe(0);
    expect(await canLogin(s.port, 'bob', 'bob-pass')).toBe(true);
    r = await clove([...cfg, 'register', 'bob', 'localhost']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('clove: usage: clove register USER HOST PASSWORD\n');
    r = await clove([...cfg, 'register', 'bob', 'nowhere.example', 'x']);
    expect(r.code).toBe(1);
    r = await clove([...cfg, 'unregister', 'bob', 'localhost']);
    expect(r.code, r.stderr).toBe(0);
    expect(await canLogin(s.port, 'bob', 'bob-pass')).toBe(false);
  }, 30_000);

  it('about prints version, Node version, config, hosts and modules', async () => {
    const s = await child();
    const r = await clove(['--config', s.configPath, 'about']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Clove \S+\n/);
    expect(r.stdout).toContain(`Node.js ${process.version}`);
    expect(r.stdout).toContain(`config: ${s.configPath}`);
    expect(r.stdout).toMatch(/^host localhost: .*roster/m);
  }, 30_000);
});

describe('clove start / stop / status and the pidfile', () => {
  it('writes the pidfile; a second start refuses with the running PID; status; stop removes it', async () => {
    const s = await child();
    const pidfile = join(s.dir, 'clove.pid');
    expect((await readFile(pidfile, 'utf8')).trim()).toBe(String(s.pid));
    const cfg = ['--config', s.configPath];

    const second = await clove(['start', ...cfg]);
    expect(second.code).toBe(2);
    expect(second.stderr).toBe(`clove: already running as PID ${s.pid} (pidfile ${pidfile})\n`);
    expect((await readFile(pidfile, 'utf8')).trim()).toBe(String(s.pid));

    let st = await clove(['status', ...cfg]);
    expect(st.code).toBe(0);
    expect(st.stdout).toBe(`clove is running as PID ${s.pid} (pidfile ${pidfile})\n`);

    const stop = await clove(['stop', ...cfg]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(pidfile)).toBe(false);
    expect(s.logs().some((l) => l.msg === 'stopped')).toBe(true);

    st = await clove(['status', ...cfg]);
    expect(st.code).toBe(3);
    expect(st.stdout).toBe(`clove is not running (pidfile ${pidfile})\n`);
    const again = await clove(['stop', ...cfg]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`clove: not running (no live process in pidfile ${pidfile})\n`);
  }, 40_000);

  it('replaces a stale pidfile naming a dead process', async () => {
    const first = await child();
    const pidfile = join(first.dir, 'clove.pid');
    await first.kill('SIGTERM');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    await writeFile(pidfile, `${dead}\n`);
    const s = await startChild({ dir: first.dir });
    children.push(s);
    await pidfileWritten(s);
    expect((await readFile(pidfile, 'utf8')).trim()).toBe(String(s.pid));
    await s.kill('SIGTERM');
    expect(existsSync(pidfile)).toBe(false);
  }, 40_000);

  it('stop and status without a pidfile in the config fail with one clear line', async () => {
    const s = await child('');
    const r = await clove(['stop', '--config', s.configPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`clove: no pidfile is set in ${s.configPath}; cannot find the running server\n`);
  }, 30_000);
});

describe('SIGTERM', () => {
  it('sends system-shutdown to a connected client and loses no stored data', async () => {
    const s = await child();
    const reg = await clove(['--config', s.configPath, 'register', 'carol', 'localhost', 'carol-pass']);
    expect(reg.code, reg.stderr).toBe(0);
    const c = await Wire.login({ port: s.port, username: 'carol', password: 'carol-pass', resource: 'r' });
    const reply = c.waitFor(match('iq', { id: 'r1' }));
    c.send(`<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='dave@example.net' name='Dave'/></query></iq>`);
    expect((await reply).attrs.type).toBe('result');
    const shutdown = expect(c.waitFor(match('never'), 10_000)).rejects.toThrow(/system-shutdown/);
    expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    await shutdown;
    expect(existsSync(join(s.dir, 'clove.pid'))).toBe(false);

    const again = await startChild({ dir: s.dir });
    children.push(again);
    await pidfileWritten(again);
    const c2 = await Wire.login({ port: again.port, username: 'carol', password: 'carol-pass', resource: 'r' });
    const roster = c2.waitFor(match('iq', { id: 'g1' }));
    c2.send(`<iq type='get' id='g1'><query xmlns='jabber:iq:roster'/></iq>`);
    expect(JSON.stringify(await roster)).toContain('dave@example.net');
    await again.kill('SIGTERM');
  }, 40_000);
});

describe('clove start -D', () => {
  it('detaches, writes the pidfile (umask 027), refuses a second start, restarts, and stop stops it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clove-daemon-'));
    dirs.push(dir);
    const cfgPath = await writeChildConfig(dir, 'pidfile = "clove.pid"');
    const cfg = ['--config', cfgPath];
    const pidfile = join(dir, 'clove.pid');
    const pids: number[] = [];
    afterPids.push(pids);

    const started = await clove(['start', '-D', ...cfg], '', { ...process.env, MALLOC_ARENA_MAX: undefined });
    expect(started.code, started.stderr).toBe(0);
    const pid = Number((await readFile(pidfile, 'utf8')).trim());
    pids.push(pid);
    expect(started.stderr).toBe(`clove started as PID ${pid} (pidfile ${pidfile})\n`);
    expect((await stat(pidfile)).mode & 0o777).toBe(0o640);
    // The process-start settings (src/cli/process-env.ts) reach the detached server.
    expect(environOf(pid)).toContain('MALLOC_ARENA_MAX=2');

    const second = await clove(['start', '-D', ...cfg]);
    expect(second.code).toBe(2);
    expect(second.stderr).toBe(`clove: already running as PID ${pid} (pidfile ${pidfile})\n`);
    expect((await clove(['status', ...cfg])).stdout).toBe(`clove is running as PID ${pid} (pidfile ${pidfile})\n`);

    // An operator's own value is kept.
    const restarted = await clove(['restart', ...cfg], '', { ...process.env, MALLOC_ARENA_MAX: '3' });
    expect(restarted.code, restarted.stderr).toBe(0);
    const pid2 = Number((await readFile(pidfile, 'utf8')).trim());
    pids.push(pid2);
    expect(pid2).not.toBe(pid);
    expect(restarted.stderr).toContain(`stopped clove (PID ${pid})\nclove started as PID ${pid2}`);
    expect(environOf(pid2)).toContain('MALLOC_ARENA_MAX=3');

    const stopped = await clove(['stop', ...cfg]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(existsSync(pidfile)).toBe(false);
    expect((await clove(['status', ...cfg])).code).toBe(3);
  }, 50_000);

  it('reports why the detached server could not start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clove-daemon-'));
    dirs.push(dir);
    const cfgPath = await writeChildConfig(dir, 'pidfile = "clove.pid"\numask = "9x"');
    const r = await clove(['start', '-D', '--config', cfgPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`clove: ${cfgPath}: umask = "9x" is not an octal mask such as "027"\n`);
  }, 30_000);
});

describe('clove start as root', () => {
  it.skipIf(process.getuid?.() !== 0)('refuses without run_as_root = true, with one line saying what to do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clove-root-'));
    dirs.push(dir);
    const cfgPath = await writeChildConfig(dir, 'run_as_root = false');
    const r = await clove(['start', '--config', cfgPath]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`clove: refusing to run as root; start Clove as an unprivileged user, or set run_as_root = true in ${cfgPath}\n`);
  }, 30_000);
});

describe('clove start -D failures', () => {
  it('a detached server that cannot listen: the parent exits 2 with its one line', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const dir = await mkdtemp(join(tmpdir(), 'clove-daemon-'));
      dirs.push(dir);
      const cfgPath = await writeChildConfig(dir, `pidfile = "clove.pid"\nc2s_ports = { ${port} }`);
      const r = await clove(['start', '-D', '--config', cfgPath]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^clove: .*${port}.*\\n$`));
      expect(r.stderr.split('\n')).toHaveLength(2);
      expect(existsSync(join(dir, 'clove.pid'))).toBe(false);
    } finally {
      blocker.close();
    }
  }, 30_000);
});

describe('SIGHUP', () => {
  it('reopens log files, so logrotate can move them away', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clove-logrotate-'));
    dirs.push(dir);
    const logFile = join(dir, 'clove.log');
    // A warn-level log file; the console keeps info for the port line.
    const logLine = `log = { info = "*console"; warn = ${JSON.stringify(logFile)} }`;
    const s = await child(`pidfile = "clove.pid"\n${logLine}`);
    // Now the file exists and is open; rotate it the way logrotate does (rename), then reload again.
    await expect.poll(async () => (await stat(logFile).then(() => true, () => false)), { timeout: 5000 }).toBe(true);
    await rename(logFile, `${logFile}.1`);
    await writeChildConfig(s.dir, `pidfile = "clove.pid"\nallow_registration = true\n${logLine}`);
    process.kill(s.pid, 'SIGHUP');
    await s.waitForLog((l) => l.msg.includes('changed: allow_registration'));
    await expect.poll(async () => (await readFile(logFile, 'utf8').catch(() => '')), { timeout: 5000 }).toContain('changed: allow_registration');
    expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 30_000);


  it('re-reads the config without dropping a connected client and names what changed', async () => {
    const s = await child();
    const reg = await clove(['--config', s.configPath, 'register', 'erin', 'localhost', 'erin-pass']);
    expect(reg.code, reg.stderr).toBe(0);
    const c = await Wire.login({ port: s.port, username: 'erin', password: 'erin-pass', resource: 'r' });
    const registrationForm = async (): Promise<string | undefined> => {
      const probe = await Wire.open({ port: s.port });
      try {
        await probe.startTls();
        return (await probe.iq(`<iq type='get' id='reg'><query xmlns='jabber:iq:register'/></iq>`)).attrs.type;
      } finally {
        probe.destroy();
      }
    };
    expect(await registrationForm()).toBe('error');
    // `clove reload` checks the file first: a broken one is reported there and the server is left alone.
    await writeFile(s.configPath, (await readFile(s.configPath, 'utf8')) + '\nc2s_timeout = {\n');
    const refused = await clove(['--config', s.configPath, 'reload']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`^clove: ${s.configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: .*\n$`));
    await writeChildConfig(s.dir, 'pidfile = "clove.pid"\nallow_registration = true');
    const asked = await clove(['--config', s.configPath, 'reload']);
    expect(asked.code, asked.stderr).toBe(0);
    expect(asked.stderr).toBe(`asked clove (PID ${s.pid}) to reload ${s.configPath}; its log says what was applied\n`);
    const line = await s.waitForLog((l) => l.msg.startsWith('SIGHUP: config'));
    // Only the second request reached the server.
    expect(s.logs().filter((l) => l.msg.startsWith('SIGHUP')).length).toBe(1);
    expect(line.msg).toBe(`SIGHUP: config ${s.configPath} reloaded; changed: allow_registration; all applied`);
    // Applied live: a new connection now gets the registration form, and nobody was dropped.
    await s.waitForLog((l) => l.msg.includes('allow_registration is now true'));
    expect(await registrationForm()).toBe('result');

    await writeFile(s.configPath, 'interfaces = { "127.0.0.1"\n');
    process.kill(s.pid, 'SIGHUP');
    const failed = await s.waitForLog((l) => l.msg.startsWith('SIGHUP: config reload failed'));
    expect(failed.msg).toContain(s.configPath);

    const pong = c.waitFor(match('iq', { id: 'p1' }));
    c.send(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect((await pong).attrs.type).toBe('result');
    expect(c.closed).toBe(false);
    expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 30_000);
});
