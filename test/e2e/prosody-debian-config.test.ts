// Debian's stock /etc/prosody/prosody.cfg.lua (installed by Debian's `prosody` package; CI
// installs it) runs Clove unchanged: the file is copied byte for byte into a temporary directory
// with its conf.d (whose localhost.cfg.lua is a link into conf.avail, as Debian ships it), and the
// only addition is one more file in conf.d — what an operator would drop there — that moves what
// this copy writes (pidfile, data, log) into the temporary directory through ENV_CLOVE_TEST_DIR,
// listens on port 0, and allows root (these machines run tests as root). Its Include
// "conf.d/*.cfg.lua" and VirtualHost "localhost" then give a server where a user made with
// `clove adduser` logs in; a Component line in another included file gives a MUC to join.
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runClove, startChild, type ChildServer } from '../helpers/child-server.js';
import { TEST_CERT_DIR } from '../helpers/server.js';
import { match, Wire } from '../helpers/wire.js';

const STOCK = '/etc/prosody';
const NS_MUC = 'http://jabber.org/protocol/muc';

/** The line of the stock file's `Include "conf.d/*.cfg.lua"` (262 in Debian 12's). */
function includeLine(config: string): number {
  return readFileSync(config, 'utf8').split('\n').findIndex((l) => l.startsWith('Include "conf.d/*.cfg.lua"')) + 1;
}

const OVERRIDES = `-- Added by the test, as an operator adds a file to conf.d: where this copy writes.
local dir = ENV_CLOVE_TEST_DIR
run_as_root = true
interfaces = { "127.0.0.1" }
c2s_ports = { 0 }
s2s_ports = { }
pidfile = dir .. "/clove.pid"
data_path = dir .. "/data"
certificates = "${TEST_CERT_DIR}"
log = "info"
clove_bcrypt_cost = 4
`;

let dir = '';
let server: ChildServer | undefined;
afterEach(async () => {
  await server?.kill('SIGTERM');
  server = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The stock config and its conf.d/conf.avail copied into a fresh directory, plus the test's conf.d files. */
async function stockCopy(extra: Record<string, string> = {}): Promise<{ config: string; env: NodeJS.ProcessEnv }> {
  if (!existsSync(join(STOCK, 'prosody.cfg.lua'))) throw new Error(`${STOCK}/prosody.cfg.lua is missing: install Debian's prosody package (apt-get install prosody)`);
  dir = await mkdtemp(join(tmpdir(), 'clove-debian-'));
  for (const name of ['prosody.cfg.lua', 'conf.d', 'conf.avail']) cpSync(join(STOCK, name), join(dir, name), { recursive: true, verbatimSymlinks: true });
  writeFileSync(join(dir, 'conf.d', 'zz-clove-test.cfg.lua'), OVERRIDES);
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, 'conf.d', name), text);
  const config = join(dir, 'prosody.cfg.lua');
  expect(readFileSync(config)).toEqual(readFileSync(join(STOCK, 'prosody.cfg.lua')));
  expect(readFileSync(config, 'utf8')).toMatch(/^Include "conf\.d\/\*\.cfg\.lua"/m);
  return { config, env: { ...process.env, CLOVE_TEST_DIR: dir } };
}

async function startWithUser(extra: Record<string, string> = {}): Promise<Wire> {
  const { config, env } = await stockCopy(extra);
  const added = await runClove(['--config', config, 'adduser', '--batch'], 'alice@localhost alice-pw\n', env);
  expect(added.stderr).not.toMatch(/clove: /);
  expect(added.code).toBe(0);
  server = await startChild({ dir, configPath: config, env, timeout: 30000 });
  // The stock pidfile (/run/prosody/prosody.pid) is replaced by the added conf.d file's.
  const written = await server.waitForLog((l) => l.msg.startsWith('pidfile '), 15000);
  expect(written.msg).toContain(join(dir, 'clove.pid'));
  return Wire.login({ port: server.port, username: 'alice', password: 'alice-pw', resource: 'debian' });
}

describe("Debian's stock prosody.cfg.lua", () => {
  it('in place, read only: `clove check config` follows its Include into conf.d', async () => {
    const config = join(STOCK, 'prosody.cfg.lua');
    const r = await runClove(['--config', config, 'check', 'config']);
    expect(r.stderr).not.toMatch(/clove: /);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${config}:${includeLine(config)}: include Include "conf.d/*.cfg.lua": ${join(STOCK, 'conf.d/localhost.cfg.lua')}`);
    expect(r.stdout).toMatch(/statement\(s\): \d+ used, \d+ ignored, 0 unknown\n$/);
  }, 30000);

  it('passes `clove check config`, which reports every statement of it and of its includes', async () => {
    const { config, env } = await stockCopy();
    const r = await runClove(['--config', config, 'check', 'config'], '', env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${config}:${includeLine(config)}: include Include "conf.d/*.cfg.lua": ${join(dir, 'conf.d/localhost.cfg.lua')}, ${join(dir, 'conf.d/zz-clove-test.cfg.lua')}`);
    expect(r.stdout).toContain(`${join(dir, 'conf.d/localhost.cfg.lua')}:4: section VirtualHost "localhost"`);
    expect(r.stdout).toMatch(new RegExp(`${config.replace(/\./g, '\\.')}:\\d+: ignored plugin_paths`));
    expect(r.stdout).toContain(`${join(dir, 'conf.d/zz-clove-test.cfg.lua')}:2: local   local dir`);
    // `clove check` prints the same report before the certificate and routing checks.
    const all = await runClove(['--config', config, 'check'], '', env);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`${join(dir, 'conf.d/localhost.cfg.lua')}:4: section VirtualHost "localhost"`);
    // Only an error fails: one in an included file, named by its file and line.
    writeFileSync(join(dir, 'conf.d', 'bad.cfg.lua'), '-- broken\nc2s_timeout = 60 * "five"\n');
    const bad = await runClove(['--config', config, 'check', 'config'], '', env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`clove: ${join(dir, 'conf.d/bad.cfg.lua')}:2: attempt to perform arithmetic on a string value (option 'c2s_timeout')\n`);
  }, 30000);

  it('starts Clove with its conf.d include, and a user made with clove adduser logs in', async () => {
    const alice = await startWithUser();
    const r = await alice.iq(`<iq type='get' to='localhost' id='v1'><query xmlns='jabber:iq:version'/></iq>`);
    expect(r.attrs.type).toBe('result');
    await alice.close();
  }, 60000);

  it('routes to a Component defined in an included file: a MUC room can be joined', async () => {
    const alice = await startWithUser({ 'muc.cfg.lua': '-- A MUC service, as an operator adds one\nComponent "conference.localhost" "muc"\n  name = "Rooms"\n' });
    alice.send(`<presence to='lobby@conference.localhost/alice'><x xmlns='${NS_MUC}'/></presence>`);
    const self = await alice.waitFor(match('presence', { from: 'lobby@conference.localhost/alice' }));
    expect(self.attrs.type).toBeUndefined();
    expect(self.getChild('x', `${NS_MUC}#user`)?.getChildren('status').map((s) => s.attrs.code)).toContain('110');
    await alice.close();
  }, 60000);
});
