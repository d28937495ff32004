// Include, the file readers and the bounds of reading, on real files in a temporary directory.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, option, type Config } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/config/errors.js';
import { CONFIG_LIMITS, type ConfigLimits } from '../../../src/config/include.js';
import { formatReport } from '../../../src/config/report.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'clove-include-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Write files under the temporary directory; returns the path of the first. */
function files(tree: Record<string, string>): string {
  for (const [name, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return join(dir, Object.keys(tree)[0] as string);
}

async function load(tree: Record<string, string>, env: NodeJS.ProcessEnv = {}, limits?: ConfigLimits): Promise<Config> {
  return loadConfig(files(tree), limits ? { env, limits } : { env });
}

async function failure(tree: Record<string, string>, env: NodeJS.ProcessEnv = {}, limits?: ConfigLimits): Promise<ConfigError> {
  try {
    await load(tree, env, limits);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toMatch(/\n/);
    return err as ConfigError;
  }
  throw new Error('no error');
}

describe('Include', () => {
  it('reads a glob relative to the including file, sorted, skipping dot files and directories', async () => {
    const c = await load({
      'main.cfg.lua': 'admins = { "root@a" }\nVirtualHost "a"\nInclude "conf.d/*.cfg.lua"\nallow_registration = true',
      'conf.d/b.cfg.lua': 'VirtualHost "b"',
      'conf.d/a.cfg.lua': 'VirtualHost "c"',
      'conf.d/.hidden.cfg.lua': 'VirtualHost "hidden"',
      'conf.d/notes.txt': 'not lua at all',
      'conf.d/dir.cfg.lua/x': '',
    });
    expect(c.virtualHosts()).toEqual(['a', 'c', 'b']);
    // The including file goes on in its own section (VirtualHost "a") after the Include.
    expect(c.setIn('allow_registration', 'a')).toBe('host');
    expect(c.setIn('allow_registration', 'b')).toBeUndefined();
  });

  it('starts an included file in the global section, as Prosody does', async () => {
    const c = await load({
      'main.cfg.lua': 'VirtualHost "a"\nInclude "extra.cfg.lua"',
      'extra.cfg.lua': 'c2s_timeout = 60 * 2\nVirtualHost "b"\nallow_registration = true',
    });
    expect(c.get('c2s_timeout')).toBe(120);
    expect(c.source('c2s_timeout')).toEqual({ file: join(dir, 'extra.cfg.lua'), line: 1 });
    expect(c.setIn('allow_registration', 'b')).toBe('host');
    expect(c.setIn('allow_registration', 'a')).toBeUndefined();
  });

  it('reads Component sections and options in included files, and nested includes relative to each file', async () => {
    const c = await load({
      'etc/main.cfg.lua': 'VirtualHost "a"\ninclude("sub/one.cfg.lua")',
      'etc/sub/one.cfg.lua': 'Include "two.cfg.lua"',
      'etc/sub/two.cfg.lua': 'Component "rooms.a" "muc"\nmax_history_messages = 5\nComponent "off.a" "muc"\nenabled = false',
    });
    expect(c.components().map((s) => [s.name, s.component, s.file])).toEqual([['rooms.a', 'muc', join(dir, 'etc/sub/two.cfg.lua')], ['off.a', 'muc', join(dir, 'etc/sub/two.cfg.lua')]]);
    expect(c.get('max_history_messages', 'rooms.a')).toBe(5);
    expect(c.get('enabled', 'off.a')).toBe(false);
    expect(c.get('enabled', 'rooms.a')).toBe(true);
  });

  it('takes the path from an expression, and an absolute path as it is', async () => {
    const abs = join(dir, 'abs.cfg.lua');
    const c = await load({ 'main.cfg.lua': `local d = "${dir}"\nInclude(d .. "/abs.cfg.lua")\nInclude(ENV_EXTRA)`, 'abs.cfg.lua': 'VirtualHost "abs"', 'e.cfg.lua': 'VirtualHost "env"' }, { EXTRA: join(dir, 'e.cfg.lua') });
    expect(c.virtualHosts()).toEqual(['abs', 'env']);
    expect(c.hosts[0]?.file).toBe(abs);
  });

  it('accepts a glob matching nothing, and the same file included twice', async () => {
    const c = await load({ 'main.cfg.lua': 'Include "conf.d/*.cfg.lua"\nInclude "x.cfg.lua"\nInclude "x.cfg.lua"', 'conf.d/README': '', 'x.cfg.lua': 'VirtualHost "x"' });
    expect(c.virtualHosts()).toEqual(['x']);
  });

  it('refuses a missing file, naming the including file and line', async () => {
    const err = await failure({ 'main.cfg.lua': 'a = 1\nInclude "missing.cfg.lua"' });
    expect(err.message).toBe(`${join(dir, 'main.cfg.lua')}:2: cannot read included file ${join(dir, 'missing.cfg.lua')}: no such file`);
  });

  it('refuses a glob over a missing directory, and a glob in a directory name', async () => {
    expect((await failure({ 'main.cfg.lua': '\nInclude "nowhere/*.lua"' })).message).toMatch(/main\.cfg\.lua:2: Include "nowhere\/\*\.lua": cannot list the directory .*nowhere: no such directory/);
    expect((await failure({ 'main.cfg.lua': 'Include "*/x.lua"' })).message).toMatch(/main\.cfg\.lua:1: Include "\*\/x\.lua": only the file name may have \* or \?/);
  });

  it('refuses an include loop, directly and through other files', async () => {
    expect((await failure({ 'main.cfg.lua': 'a = 1\nInclude "main.cfg.lua"' })).message).toMatch(/main\.cfg\.lua:2: Include loop: .*main\.cfg\.lua is already being read/);
    const err = await failure({ 'main.cfg.lua': 'Include "b.cfg.lua"', 'b.cfg.lua': '\n\nInclude "*.cfg.lua"' });
    expect(err.file).toBe(join(dir, 'b.cfg.lua'));
    expect(err.line).toBe(3);
    expect(err.message).toMatch(/Include loop: .*b\.cfg\.lua is already being read/);
  });

  it('sees a loop through a symbolic link', async () => {
    files({ 'main.cfg.lua': 'Include "link.cfg.lua"' });
    symlinkSync(join(dir, 'main.cfg.lua'), join(dir, 'link.cfg.lua'));
    await expect(loadConfig(join(dir, 'main.cfg.lua'), { env: {} })).rejects.toThrow(/main\.cfg\.lua:1: Include loop: .*link\.cfg\.lua is already being read/);
  });

  it('names the included file and its line for an error inside it', async () => {
    const err = await failure({ 'main.cfg.lua': 'VirtualHost "a"\nInclude "conf.d/*.cfg.lua"', 'conf.d/a.cfg.lua': 'ok = 1', 'conf.d/b.cfg.lua': '-- b\n\nc2s_timeout = "soon"' });
    expect(err.message).toBe(`${join(dir, 'conf.d/b.cfg.lua')}:3: expected a number for option 'c2s_timeout', got string "soon"`);
    const syntax = await failure({ 'main.cfg.lua': 'Include "x.cfg.lua"', 'x.cfg.lua': 'a = 1\nfor i = 1, 2 do end' });
    expect(syntax.message).toMatch(new RegExp(`^${join(dir, 'x.cfg.lua').replace(/\./g, '\\.')}:2: 'for' is not supported`));
  });

  it('names the included file when a module reads a bad value from it', async () => {
    const c = await load({ 'main.cfg.lua': 'VirtualHost "a"\nInclude "x.cfg.lua"', 'x.cfg.lua': '\nsome_module_limit = "ten"' });
    expect(() => option(c, 'a', 'some_module_limit', 5)).toThrow(`${join(dir, 'x.cfg.lua')}:2: expected a number for option 'some_module_limit', got string "ten"`);
    expect(c.where('some_module_limit', 'a')).toBe(`${join(dir, 'x.cfg.lua')}:2`);
  });

  it("keeps each file's locals to itself", async () => {
    const err = await failure({ 'main.cfg.lua': 'local size = 5\nInclude "x.cfg.lua"', 'x.cfg.lua': 'max = size' });
    expect(err.message).toMatch(/x\.cfg\.lua:1: 'size' is not defined/);
  });

  it('names both places when a section is redefined as another kind in another file', async () => {
    const err = await failure({ 'main.cfg.lua': 'VirtualHost "a"\nInclude "x.cfg.lua"', 'x.cfg.lua': '\nComponent "a" "muc"' });
    expect(err.message).toBe(`${join(dir, 'x.cfg.lua')}:2: 'a' is already defined as VirtualHost "a" at ${join(dir, 'main.cfg.lua')}:1`);
  });

  it('refuses includes nested deeper than the limit', async () => {
    const tree: Record<string, string> = {};
    for (let i = 0; i <= CONFIG_LIMITS.includeDepth + 1; i++) tree[`f${i}.cfg.lua`] = `Include "f${i + 1}.cfg.lua"`;
    tree[`f${CONFIG_LIMITS.includeDepth + 2}.cfg.lua`] = '';
    const err = await failure(tree);
    expect(err.message).toMatch(new RegExp(`f${CONFIG_LIMITS.includeDepth}\\.cfg\\.lua:1: Include "f${CONFIG_LIMITS.includeDepth + 1}\\.cfg\\.lua": includes are nested more than ${CONFIG_LIMITS.includeDepth} levels deep`));
  });

  it('refuses more config files, or more bytes in all, than the limits', async () => {
    const small: ConfigLimits = { includeDepth: 16, files: 3, totalBytes: 100, fileBytes: 60 };
    const many = await failure({ 'main.cfg.lua': 'Include "*.inc"', 'a.inc': '', 'b.inc': '', 'c.inc': '' }, {}, small);
    expect(many.message).toMatch(/main\.cfg\.lua:1: cannot read included file .*c\.inc: more than 3 config files are included/);
    const big = await failure({ 'main.cfg.lua': 'Include "a.inc"', 'a.inc': `x = "${'y'.repeat(60)}"` }, {}, small);
    expect(big.message).toMatch(/main\.cfg\.lua:1: cannot read included file .*a\.inc: it is larger than 60 bytes/);
    const total = await failure({ 'main.cfg.lua': 'Include "*.inc"', 'a.inc': `x = "${'y'.repeat(40)}"`, 'b.inc': `z = "${'y'.repeat(40)}"` }, {}, small);
    expect(total.message).toMatch(/cannot read included file .*b\.inc: the config files and the files they read exceed 100 bytes in all/);
  });
});

describe('FileContents, FileLine, FileLines and Credential', () => {
  it('read relative to the file they are written in', async () => {
    const c = await load({
      'main.cfg.lua': 'Include "secrets/s.cfg.lua"',
      'secrets/s.cfg.lua': 'VirtualHost "a"\ncomponent_secret = FileLine("pw.txt")\nadmins = FileLines "admins.txt"\nmotd_text = FileContents("motd.txt")',
      'secrets/pw.txt': 'hunter2\n',
      'secrets/admins.txt': 'a@a\nb@a\n',
      'secrets/motd.txt': 'Hello\nthere\n',
    });
    expect(c.lookup('component_secret', 'a')?.value).toBe('hunter2');
    expect(c.get('admins', 'a')).toEqual(['a@a', 'b@a']);
    expect(c.lookup('motd_text', 'a')?.value).toBe('Hello\nthere\n');
  });

  it('fail naming the config line and the file they could not read', async () => {
    const err = await failure({ 'main.cfg.lua': 'a = 1\n\nsecret = FileContents("nope.txt")' });
    expect(err.message).toBe(`${join(dir, 'main.cfg.lua')}:3: FileContents("nope.txt"): cannot read ${join(dir, 'nope.txt')}: no such file (option 'secret')`);
  });

  it('refuse a file larger than the limit, a directory, and text that is not UTF-8', async () => {
    const small: ConfigLimits = { ...CONFIG_LIMITS, fileBytes: 20 };
    expect((await failure({ 'main.cfg.lua': 'x = FileLine("big")', big: 'a'.repeat(21) }, {}, small)).message).toMatch(/:1: FileLine\("big"\): cannot read .*big: it is larger than 20 bytes/);
    expect((await failure({ 'main.cfg.lua': 'x = FileLines(".")' })).message).toMatch(/:1: FileLines\("\."\): cannot read .*: it is a directory/);
    files({ bin: '' });
    writeFileSync(join(dir, 'bin'), Buffer.from([0xff, 0xfe]));
    expect((await failure({ 'main.cfg.lua': 'x = FileContents("bin")' })).message).toMatch(/FileContents\("bin"\): cannot read .*bin: it is not UTF-8 text/);
  });

  it('Credential reads from $CREDENTIALS_DIRECTORY (systemd), and fails clearly without it', async () => {
    files({ 'creds/db': 's3cret' });
    const c = await load({ 'main.cfg.lua': 'x = Credential("db")' }, { CREDENTIALS_DIRECTORY: join(dir, 'creds') });
    expect(c.lookup('x')?.value).toBe('s3cret');
    expect((await failure({ 'main.cfg.lua': 'x = Credential("db")' })).message).toMatch(/:1: Credential\("db"\): Credential\(\) requires the \$CREDENTIALS_DIRECTORY environment variable/);
  });
});

describe('the report', () => {
  it('maps every statement of every file to what Clove made of it', async () => {
    const c = await load({
      'main.cfg.lua': 'local limit = 10 * 1024\nc2s_stanza_size_limit = limit * 16\nplugin_paths = { "/x" }\nc2s_port = 5222\nVirtualHost "a"\nInclude "d/*.lua"',
      'd/x.lua': 'Component "rooms.a" "muc"\nenabled = false\nc2s_ports = { 1 }',
    });
    const m = join(dir, 'main.cfg.lua');
    const x = join(dir, 'd/x.lua');
    expect(formatReport(c.report)).toEqual([
      `${m}:1: local   local limit`,
      `${m}:2: used    c2s_stanza_size_limit`,
      `${m}:3: ignored plugin_paths: accepted for Prosody compatibility; Clove does not act on it yet`,
      `${m}:4: unknown c2s_port: not a Clove option, ignored; did you mean 'c2s_ports'?`,
      `${m}:5: section VirtualHost "a"`,
      `${m}:6: include Include "d/*.lua": ${x}`,
      `${x}:1: section Component "rooms.a" "muc"`,
      `${x}:2: used    enabled under Component "rooms.a"`,
      `${x}:3: ignored c2s_ports under Component "rooms.a": can only be set globally (before the first VirtualHost/Component line)`,
    ]);
    expect(c.warnings).toContain(`${x}:3: option 'c2s_ports' can only be set globally (before the first VirtualHost/Component line); ignored under Component "rooms.a"`);
  });
});
