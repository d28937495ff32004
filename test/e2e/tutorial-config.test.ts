// The I2P tutorial's prosody.cfg.lua runs under Clove: only its b32 address and absolute
// paths are replaced (with a test name and a temp dir), and lines are added for what a test
// needs (ports 0, a data dir, run_as_root since tests run as root); then a user logs in.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/child-server.js';
import { RawClient } from '../helpers/raw-client.js';

const run = promisify(execFile);
const CLOVE = join(REPO_ROOT, 'bin', 'clove.js');
const HOST = 't'.repeat(52) + '.b32.i2p';
const dirs: string[] = [];
afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

describe("the tutorial's prosody.cfg.lua", () => {
  it('starts (in the foreground with -F), and a user created with clove register logs in', async () => {
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
    await writeFile(cfg, ['c2s_ports = { 0 }', 's2s_ports = { 0 }', `data_path = ${JSON.stringify(join(dir, 'data'))}`, 'run_as_root = true', text].join('\n'));

    await run(process.execPath, [CLOVE, 'cert', 'generate', HOST, '--config', cfg], { cwd: REPO_ROOT });
    await run(process.execPath, [CLOVE, 'register', 'admin', HOST, 'admin-pw', '--config', cfg], { cwd: REPO_ROOT });

    const child = spawn(process.execPath, [CLOVE, 'start', '-F', '--config', cfg], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      let stderr = '';
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no c2s port in 20 s; stderr:\n${stderr}`)), 20_000);
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString('utf8');
          const m = /c2s listening on 127\.0\.0\.1:(\d+)/.exec(stderr);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        child.once('exit', () => reject(new Error(`clove exited early; stderr:\n${stderr}`)));
      });
      const c = await RawClient.login({ port, domain: HOST, username: 'admin', password: 'admin-pw', resource: 'pidgin' });
      expect(c.jid).toBe(`admin@${HOST}/pidgin`);
      // The tutorial enables roster and vcard (not ping): what Pidgin asks at login answers.
      const roster = await c.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
      expect(roster.attrs.type).toBe('result');
      const info = await c.iq(`<iq type='get' to='${HOST}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
      const features = info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
      expect(features).toEqual(expect.arrayContaining(['vcard-temp', 'jabber:iq:private', 'http://jabber.org/protocol/commands']));
      await c.close();
      // Every module the tutorial enables exists in Clove: no "not available" warning.
      expect(stderr).not.toMatch(/is not available in Clove/);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 40_000);
});
