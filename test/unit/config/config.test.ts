import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Config, configPathFrom, defaultConfig, EMBEDDED_DEFAULT, loadConfig, option, parseConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/config/errors.js';

const F = '/etc/clove/clove.cfg.lua';
const parse = (src: string): Config => parseConfig(src, F);

function error(src: string): ConfigError {
  try {
    parse(src);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toMatch(/\n/);
    return err as ConfigError;
  }
  throw new Error(`no error for ${JSON.stringify(src)}`);
}

describe('typed values and defaults', () => {
  it('returns schema defaults for unset options', () => {
    const c = parse('');
    expect(c.get('interfaces')).toEqual(['127.0.0.1']);
    expect(c.get('c2s_ports')).toEqual([5222]);
    expect(c.get('s2s_ports')).toEqual([5269]);
    expect(c.get('c2s_interfaces')).toBeUndefined();
    expect(c.get('data_path')).toBe('./data');
    expect(c.get('certificates')).toBe('certs');
    expect(c.get('allow_registration')).toBe(false);
    expect(c.get('c2s_require_encryption')).toBe(true);
    expect(c.get('s2s_require_encryption')).toBe(true);
    expect(c.get('s2s_secure_auth')).toBe(false);
    expect(c.get('authentication')).toBe('internal_hashed');
    expect(c.get('darknet_only')).toBe(true);
    expect(c.get('darknet_map')).toEqual({});
    expect(c.get('darknet_socks5_host')).toBe('127.0.0.1');
    expect(c.get('darknet_socks5_port')).toBe(4447);
    expect(c.get('c2s_stanza_size_limit')).toBe(262144);
    expect(c.get('s2s_stanza_size_limit')).toBe(524288);
    expect(c.get('clove_bcrypt_cost')).toBe(10);
    expect(c.get('storage')).toBe('file');
    expect(c.get('log')).toEqual([{ level: 'info', to: 'console' }]);
    expect(c.has('interfaces')).toBe(false);
    expect(c.lineOf('interfaces')).toBeUndefined();
    expect(c.hosts).toEqual([]);
    expect(c.warnings).toEqual([]);
  });

  it('converts each type and remembers lines', () => {
    const c = parse('interfaces = "::1"\nc2s_ports = 5222\ns2s_ports = { 5269, 5270 }\nc2s_timeout = 1.5\nclove_bcrypt_cost = 12\nstorage = "memory"');
    expect(c.get('interfaces')).toEqual(['::1']);
    expect(c.get('c2s_ports')).toEqual([5222]);
    expect(c.get('s2s_ports')).toEqual([5269, 5270]);
    expect(c.get('c2s_timeout')).toBe(1.5);
    expect(c.get('clove_bcrypt_cost')).toBe(12);
    expect(c.get('storage')).toBe('memory');
    expect(c.lineOf('s2s_ports')).toBe(3);
    expect(c.has('storage')).toBe(true);
  });

  it('returns frozen values so callers cannot change the config', () => {
    const c = parse('admins = { "a@b" }');
    expect(() => (c.get<string[]>('admins')).push('x')).toThrow();
    expect(() => (c.get<string[]>('interfaces')).push('x')).toThrow();
    expect(parse('').get('interfaces')).toEqual(['127.0.0.1']);
  });

  it('throws a programming error for a name not in the schema', () => {
    expect(() => parse('').get('no_such_option')).toThrow(/unknown option 'no_such_option'/);
  });

  it('treats x = nil as unset', () => {
    const c = parse('allow_registration = true\nallow_registration = nil');
    expect(c.has('allow_registration')).toBe(false);
    expect(c.get('allow_registration')).toBe(false);
  });

  it('accepts internal_plain but means the hashed store, with a warning', () => {
    const c = parse('authentication = "internal_plain"');
    expect(c.get('authentication')).toBe('internal_hashed');
    expect(c.warnings).toEqual([`${F}:1: option 'authentication' = "internal_plain" is treated as "internal_hashed" by Clove`]);
    expect(parse('storage = "internal"').get('storage')).toBe('file');
  });
});

describe('type and bounds errors', () => {
  const cases: Array<[string, string, string]> = [
    ['string for a number', 'a = 1\n\nc2s_stanza_size_limit = "abc"', `${F}:3: expected a number for option 'c2s_stanza_size_limit', got string "abc"`],
    ['string for a float', 'c2s_timeout = "90"', `${F}:1: expected a number for option 'c2s_timeout', got string "90"`],
    ['fraction for an integer', 'clove_bcrypt_cost = 10.5', `${F}:1: expected a whole number for option 'clove_bcrypt_cost', got number 10.5`],
    ['above max', 'clove_bcrypt_cost = 20', `${F}:1: option 'clove_bcrypt_cost' must be between 4 and 15, got 20`],
    ['below min', 'clove_bcrypt_cost = 3', `${F}:1: option 'clove_bcrypt_cost' must be between 4 and 15, got 3`],
    ['negative size', 's2s_stanza_size_limit = -1', `${F}:1: option 's2s_stanza_size_limit' must be between 1024 and 67108864, got -1`],
    ['boolean as string', 'allow_registration = "yes"', `${F}:1: expected true or false for option 'allow_registration', got string "yes"`],
    ['number for a string', 'darknet_socks5_host = 127', `${F}:1: expected a string for option 'darknet_socks5_host', got number 127`],
    ['table for a string', 'darknet_socks5_host = {}', `${F}:1: expected a string for option 'darknet_socks5_host', got a table`],
    ['list item', 'admins = {\n "a@b";\n 5 }', `${F}:3: expected a string in the list for option 'admins', got number 5`],
    ['keyed list', 'modules_enabled = { "a"; x = "b" }', `${F}:1: expected a list of strings like { "a", "b" } for option 'modules_enabled', but the table has a key 'x'`],
    ['port out of range', 'c2s_ports = { 5222,\n 70000 }', `${F}:2: expected a port number (0-65535) for option 'c2s_ports', got number 70000`],
    ['port as string', 's2s_ports = "5269"', `${F}:1: expected a list of ports like { 5222 } for option 's2s_ports', got string "5269"`],
    ['enum', 'storage = "ldap"', `${F}:1: option 'storage' must be one of "file", "memory", "sql", "internal", got "ldap"`],
    ['authentication', 'authentication = "ldap"', `${F}:1: option 'authentication' must be one of "internal_hashed", "internal_plain", got "ldap"`],
    ['empty path', 'data_path = ""', `${F}:1: option 'data_path' must not be empty`],
    ['ssl key type', 'VirtualHost "a"\nssl = {\n key = 5 }', `${F}:3: expected a path string for ssl.key for option 'ssl', got number 5`],
    ['ssl as string', 'ssl = "x.pem"', `${F}:1: expected a table like { key = "…"; certificate = "…" } for option 'ssl', got string "x.pem"`],
    ['socks port', 'darknet_socks5_port = 0', `${F}:1: option 'darknet_socks5_port' must be between 1 and 65535, got 0`],
    ['host type in section', 'VirtualHost "a"\nenabled = 1', `${F}:2: expected true or false for option 'enabled', got number 1`],
    ['redefined section kind', 'VirtualHost "a"\nComponent "a" "muc"', `${F}:2: 'a' is already defined as VirtualHost "a" at line 1`],
    ['positional options table', 'VirtualHost "a" { "x" }', `${F}:1: the options table of VirtualHost "a" may only hold 'name = value' fields`],
  ];
  it.each(cases)('%s', (_name, src, message) => {
    const err = error(src);
    expect(err.message).toBe(message);
    expect(err.line).toBe(Number(/:(\d+):/.exec(message)?.[1]));
    expect(err.option).toBe(/option '([a-z0-9_]+)'/.exec(message)?.[1]);
  });

  it('names the option in parentheses when the message does not', () => {
    const err = error('darknet_map = { ["a"] = { host = "x"; port = "y" } }');
    expect(err.message).toBe(`${F}:1: expected a port number (1-65535) for option 'darknet_map', got string "y"`);
    expect(error('x = {').message).toBe(`${F}:1: expected '}' to close the table opened at line 1, got end of file (option 'x')`);
  });
});

describe('sections and host fallback', () => {
  const src = [
    'admins = { "root@a.example" }', // 1
    'allow_registration = true', // 2
    'VirtualHost "a.example"', // 3
    '  admins = { "boss@a.example" }', // 4
    '  enabled = false', // 5
    'Component "muc.a.example" "muc"', // 6
    '  modules_enabled = { "muc_mam" }', // 7
    'VirtualHost "b.example"', // 8
    'Component "gw.a.example"', // 9
  ].join('\n');

  it('lists hosts in order with their kinds', () => {
    const c = parse(src);
    expect(c.hosts).toEqual([
      { name: 'a.example', kind: 'VirtualHost', file: F, line: 3 },
      { name: 'muc.a.example', kind: 'Component', component: 'muc', file: F, line: 6 },
      { name: 'b.example', kind: 'VirtualHost', file: F, line: 8 },
      { name: 'gw.a.example', kind: 'Component', file: F, line: 9 },
    ]);
    expect(c.virtualHosts()).toEqual(['a.example', 'b.example']);
  });

  it('reads host options, then global ones, then defaults', () => {
    const c = parse(src);
    expect(c.get('admins', 'a.example')).toEqual(['boss@a.example']);
    expect(c.get('admins', 'b.example')).toEqual(['root@a.example']);
    expect(c.get('admins')).toEqual(['root@a.example']);
    expect(c.get('allow_registration', 'b.example')).toBe(true);
    expect(c.get('enabled', 'a.example')).toBe(false);
    expect(c.get('enabled', 'b.example')).toBe(true);
    expect(c.get('modules_enabled', 'muc.a.example')).toEqual(['muc_mam']);
    expect(c.get('modules_enabled', 'a.example')).toEqual([]);
    expect(c.get('admins', 'unknown.example')).toEqual(['root@a.example']);
    expect(c.lineOf('admins', 'a.example')).toBe(4);
    expect(c.lineOf('admins', 'b.example')).toBe(1);
    expect(c.has('enabled', 'a.example')).toBe(true);
    expect(c.has('enabled', 'b.example')).toBe(false);
    expect(c.setIn('admins', 'a.example')).toBe('host');
    expect(c.setIn('admins', 'b.example')).toBe('global');
    expect(c.setIn('modules_disabled', 'b.example')).toBeUndefined();
  });

  it('reopens a section named again and reads the VirtualHost options table', () => {
    const c = parse('VirtualHost "a"\nadmins = { "x@a" }\nVirtualHost "b"\nVirtualHost "a" { enabled = false }\nallow_registration = true');
    expect(c.virtualHosts()).toEqual(['a', 'b']);
    expect(c.get('enabled', 'a')).toBe(false);
    expect(c.get('admins', 'a')).toEqual(['x@a']);
    // As in Prosody, the options table closes the section: what follows is global again.
    expect(c.setIn('allow_registration', 'a')).toBe('global');
    expect(c.get('allow_registration', 'b')).toBe(true);
  });

  it('ignores global-only options inside a section, with a warning', () => {
    const c = parse('VirtualHost "a"\nc2s_ports = { 1234 }');
    expect(c.get('c2s_ports')).toEqual([5222]);
    expect(c.get('c2s_ports', 'a')).toEqual([5222]);
    expect(c.warnings).toEqual([`${F}:2: option 'c2s_ports' can only be set globally (before the first VirtualHost/Component line); ignored under VirtualHost "a"`]);
  });
});

describe('warnings', () => {
  it('suggests the closest option for an unknown one, and keeps its raw value', () => {
    const c = parse('c2s_port = 5222\nallow_registrations = true\ntotally_custom_thing = { a = 1 }');
    expect(c.warnings).toEqual([
      `${F}:1: unknown option 'c2s_port' is ignored; did you mean 'c2s_ports'?`,
      `${F}:2: unknown option 'allow_registrations' is ignored; did you mean 'allow_registration'?`,
      `${F}:3: unknown option 'totally_custom_thing' is ignored`,
    ]);
    expect(c.lookup('totally_custom_thing')).toEqual({ value: { a: 1 }, line: 3, file: F });
  });

  it('warns once per accepted option and once per reassignment', () => {
    const c = parse('prosody_user = "a"\nprosody_user = "b"\nVirtualHost "a"\ntls_profile = "modern"\nVirtualHost "b"\ntls_profile = "old"');
    expect(c.warnings).toEqual([
      `${F}:1: option 'prosody_user' is accepted for Prosody compatibility but Clove does not act on it yet`,
      `${F}:2: option 'prosody_user' is set again; this replaces the value from line 1`,
      `${F}:4: option 'tls_profile' is accepted for Prosody compatibility but Clove does not act on it yet`,
    ]);
    expect(c.get('daemonize')).toBe(false);
  });

  it('takes restrict_room_creation as Prosody does: a boolean, "admin" or "local"', () => {
    const c = parse('VirtualHost "a"\nComponent "c.a" "muc"\nrestrict_room_creation = true\nComponent "d.a" "muc"\nrestrict_room_creation = "local"\nComponent "e.a" "muc"\nrestrict_room_creation = false');
    expect(c.warnings).toEqual([]);
    expect([c.get('restrict_room_creation', 'c.a'), c.get('restrict_room_creation', 'd.a'), c.get('restrict_room_creation', 'e.a'), c.get('restrict_room_creation', 'a')]).toEqual(['admin', 'local', 'anyone', 'anyone']);
    expect(() => parse('restrict_room_creation = "members"')).toThrow(/restrict_room_creation' must be one of "anyone", "admin", "local"/);
    expect(() => parse('restrict_room_creation = 1')).toThrow(/a string or a boolean/);
  });
});

describe('log normalisation', () => {
  const log = (src: string): unknown => parse(`log = ${src}`).get('log');
  it('reads every Prosody form', () => {
    expect(log('"debug"')).toEqual([{ level: 'debug', to: 'console' }]);
    expect(log('"*console"')).toEqual([{ level: 'info', to: 'console' }]);
    expect(log('"*syslog"')).toEqual([{ level: 'info', to: 'syslog' }]);
    expect(log('"/var/log/clove.log"')).toEqual([{ level: 'info', to: '/var/log/clove.log' }]);
    expect(log('{ error = "/var/log/prosody/prosody.err"; "*syslog" }')).toEqual([
      { level: 'error', to: '/var/log/prosody/prosody.err' }, { level: 'info', to: 'syslog' }]);
    expect(log('{ info = "*console" }')).toEqual([{ level: 'info', to: 'console' }]);
    expect(log('{ warn = "console" }')).toEqual([{ level: 'warn', to: './console' }]);
    expect(log('{ { to = "file"; filename = "x.log"; levels = { min = "warn" } }, { to = "console"; levels = { "error", "debug" } } }')).toEqual([
      { level: 'warn', to: 'x.log' }, { level: 'debug', to: 'console' }]);
    expect(log('{}')).toEqual([]);
  });

  it('rejects unknown levels and sinks with the line', () => {
    expect(error('log = {\n verbose = "*console" }').message).toBe(`${F}:2: unknown log level 'verbose' in option 'log' (use debug, info, warn, error)`);
    expect(error('log = "*journal"').message).toBe(`${F}:1: unknown log sink "*journal" for option 'log' (use "*console", "*syslog" or a file path)`);
    expect(error('log = 5').message).toMatch(/^\/etc\/clove\/clove\.cfg\.lua:1: expected a level, a sink or a table .* for option 'log', got number 5$/);
    expect(error('log = { { to = "file" } }').message).toBe(`${F}:1: a log rule needs to = "console", "syslog" or "file" with filename = "…" (option 'log')`);
  });
});

describe('darknet_map', () => {
  it('reads both forms and lower-cases domains', () => {
    const c = parse('darknet_map = {\n ["i2p.rocks"] = "ynkz.b32.i2p";\n ["MUC.i2p.rocks"] = { host = "abcd.b32.i2p"; port = 5270 };\n other = { host = "e.b32.i2p" } }');
    expect(c.get('darknet_map')).toEqual({
      'i2p.rocks': { host: 'ynkz.b32.i2p', port: 5269 },
      'muc.i2p.rocks': { host: 'abcd.b32.i2p', port: 5270 },
      other: { host: 'e.b32.i2p', port: 5269 },
    });
  });

  it('reports bad entries at their line', () => {
    expect(error('darknet_map = {\n ["a"] = { port = 1 } }').message).toBe(`${F}:2: missing host = "…" for 'a' in option 'darknet_map'`);
    expect(error('darknet_map = {\n ["a"] = { host = "x", proto = "tcp" } }').message).toBe(`${F}:2: unknown key 'proto' for 'a' in option 'darknet_map' (use host and port)`);
    expect(error('darknet_map = { "x.b32.i2p" }').message).toMatch(/:1: expected a table like .* for option 'darknet_map', but found an entry without a name$/);
    expect(error('darknet_map = { a = 5 }').message).toMatch(/:1: expected a "x\.b32\.i2p" string or \{ host = .* at key 'a' for option 'darknet_map', got number 5$/);
  });
});

describe('option() for modules', () => {
  const c = parse('c2s_timeout = 60\nmy_module_limit = 5\nmy_module_name = "x"\nmy_module_list = { "a" }\nVirtualHost "h"\nmy_module_limit = 7');
  it('reads schema and module-owned options with their types', () => {
    expect(option(c, undefined, 'c2s_timeout', 10)).toBe(60);
    expect(option(c, 'h', 'c2s_timeout', 10)).toBe(60);
    expect(option(c, undefined, 'clove_bcrypt_cost', 8)).toBe(10); // the schema default wins over the fallback
    expect(option(c, undefined, 'my_module_limit', 1)).toBe(5);
    expect(option(c, 'h', 'my_module_limit', 1)).toBe(7);
    expect(option(c, undefined, 'my_module_name', 'd')).toBe('x');
    expect(option(c, undefined, 'my_module_list', [] as string[])).toEqual(['a']);
    expect(option(c, undefined, 'my_module_unset', true)).toBe(true);
    expect(option(c, undefined, 'c2s_interfaces', ['::1'])).toEqual(['::1']);
  });

  it('throws ConfigError with file:line for a wrong type or bounds', () => {
    expect(() => option(c, undefined, 'my_module_name', 3)).toThrow(`${F}:3: expected a number for option 'my_module_name', got string "x"`);
    expect(() => option(c, 'h', 'my_module_limit', 1, { max: 6 })).toThrow(`${F}:6: option 'my_module_limit' must be at most 6, got 7`);
    expect(() => option(c, undefined, 'my_module_list', true)).toThrow(ConfigError);
    expect(() => option(c, undefined, 'my_module_limit', 'a')).toThrow(/:2: expected a string for option 'my_module_limit', got number 5$/);
  });
});

describe('defaultConfig, loadConfig, configPathFrom', () => {
  let dir = '';
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'clove-config-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('embeds a localhost default', () => {
    const c = defaultConfig();
    expect(c.file).toBe(EMBEDDED_DEFAULT);
    expect(c.virtualHosts()).toEqual(['localhost']);
    expect(c.get('data_path')).toBe('./data');
    expect(c.get('certificates')).toBe('./certs');
    expect(c.warnings).toEqual([]);
  });

  it('resolves relative paths against the config file directory', async () => {
    const file = join(dir, 'clove.cfg.lua');
    await writeFile(file, 'data_path = "store"\npidfile = "/run/c.pid"\nlog = { error = "logs/err.log"; "*syslog" }\nVirtualHost "h"\nssl = { key = "k.pem"; certificate = "/abs/c.pem"; protocol = "tlsv1_2+" }\n');
    const c = await loadConfig(file);
    expect(c.file).toBe(file);
    expect(c.get('data_path')).toBe(join(dir, 'store'));
    expect(c.get('certificates')).toBe(join(dir, 'certs'));
    expect(c.get('pidfile')).toBe('/run/c.pid');
    expect(c.get('log')).toEqual([{ level: 'error', to: join(dir, 'logs/err.log') }, { level: 'info', to: 'syslog' }]);
    expect(c.get('ssl', 'h')).toEqual({ key: join(dir, 'k.pem'), certificate: '/abs/c.pem', protocol: 'tlsv1_2+' });
    expect(c.get('ssl')).toBeUndefined();
  });

  it('reports an unreadable file and errors inside it by path', async () => {
    const missing = join(dir, 'nope.cfg.lua');
    await expect(loadConfig(missing)).rejects.toThrow(`${missing}: cannot read the config file: no such file`);
    const bad = join(dir, 'bad.cfg.lua');
    await writeFile(bad, '\uFEFFinterfaces = { "127.0.0.1" }\nc2s_ports = { "x" }\n');
    await expect(loadConfig(bad)).rejects.toThrow(`${bad}:2: expected a port number (0-65535) for option 'c2s_ports', got string "x"`);
  });

  it("reads another server's config as written when foreign: no checks, no warnings, Clove's settings at their defaults", () => {
    const c = parseConfig('c2s_ports = { "x" }\ndata_path = "prosody-data"\nstorage = { roster = "sql" }\nfoo_bar = 1\nVirtualHost "a.test"\n', F, { baseDir: '/etc/prosody', foreign: true });
    expect(c.warnings).toEqual([]);
    expect(c.lookup('c2s_ports')?.value).toEqual(['x']);
    expect(c.lookup('data_path')).toEqual({ value: 'prosody-data', line: 2, file: F });
    expect(c.lookup('storage')?.value).toEqual({ roster: 'sql' });
    expect(c.get('data_path')).toBe('/etc/prosody/data');
    expect(c.get('c2s_ports')).toEqual([5222]);
    expect(c.virtualHosts()).toEqual(['a.test']);
    expect(() => parseConfig('c2s_ports = { "x" }\n', F)).toThrow(ConfigError);
  });

  it('finds the config path on the command line or in the environment', () => {
    expect(configPathFrom(['node', 'clove', 'start', '--config', 'a.lua'], {})).toBe('a.lua');
    expect(configPathFrom(['start', '--config=/b.lua'], { CLOVE_CONFIG: '/c.lua' })).toBe('/b.lua');
    expect(configPathFrom(['start'], { CLOVE_CONFIG: '/c.lua' })).toBe('/c.lua');
    expect(configPathFrom(['start'], { CLOVE_CONFIG: '' })).toBeUndefined();
    expect(configPathFrom(['start', '--', '--config', 'x'], {})).toBeUndefined();
    expect(() => configPathFrom(['start', '--config'], {})).toThrow(/--config needs a path/);
    expect(() => configPathFrom(['--config=', 'start'], {})).toThrow(ConfigError);
    expect(() => configPathFrom(['--config', '--verbose'], {})).toThrow(ConfigError);
  });
});
