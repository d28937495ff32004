// Where `clove import-prosody --from-sql` finds Prosody's SQL storage: its `sql` option, or
// Prosody's default (SQLite3, prosody.sqlite in data_path), as mod_storage_sql resolves it.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../src/config/config.js';
import { prosodySqlSource, PROSODY_DEFAULT_DATA_PATH } from '../../../../src/cli/import-prosody/sql-rows.js';

const FILE = '/etc/prosody/prosody.cfg.lua';
const source = (text: string) => prosodySqlSource(parseConfig(text, FILE, { baseDir: '/etc/prosody', foreign: true }));

describe('prosodySqlSource', () => {
  it("takes Prosody's default without an sql option: SQLite3, prosody.sqlite in the data directory", () => {
    expect(source('storage = "sql"\n')).toEqual({ driver: 'SQLite3', file: `${PROSODY_DEFAULT_DATA_PATH}/prosody.sqlite` });
    expect(source('data_path = "/srv/prosody"\nstorage = "sql"\n')).toEqual({ driver: 'SQLite3', file: '/srv/prosody/prosody.sqlite' });
  });

  it('resolves a relative database in data_path, and a relative data_path from the config file', () => {
    expect(source('data_path = "/srv/p"\nsql = { driver = "SQLite3"; database = "db/x.sqlite" }\n')).toEqual({ driver: 'SQLite3', file: '/srv/p/db/x.sqlite' });
    expect(source('data_path = "data"\nsql = { driver = "SQLite3" }\n')).toEqual({ driver: 'SQLite3', file: '/etc/prosody/data/prosody.sqlite' });
    expect(source('data_path = "/srv/p"\nsql = { driver = "SQLite3"; database = "/var/db/p.sqlite" }\n')).toEqual({ driver: 'SQLite3', file: '/var/db/p.sqlite' });
  });

  it('reads storage tables and default_storage as Prosody does, and sends a Prosody on files to the data-directory import', () => {
    expect(source('storage = { roster = "sql"; accounts = "internal" }\n')).toEqual({ driver: 'SQLite3', file: `${PROSODY_DEFAULT_DATA_PATH}/prosody.sqlite` });
    expect(source('default_storage = "sql"\n')).toEqual({ driver: 'SQLite3', file: `${PROSODY_DEFAULT_DATA_PATH}/prosody.sqlite` });
    expect(() => source('\nstorage = "internal"\n')).toThrow(`${FILE}:2: Prosody keeps its data in files here (storage = "internal", no sql option): import its data directory instead`);
    expect(() => source('admins = { }\n')).toThrow(`${FILE}: Prosody keeps its data in files here (no storage option, no sql option)`);
  });

  it("reads Prosody's options as written, whatever Clove's options of the same name take", () => {
    // Clove's `storage` is a string and its `log` another shape: neither stops the import.
    expect(source('log = { info = "/var/log/prosody/prosody.log" }\nstorage = { archive = "sql" }\nssl = { certificate = 5 }\n').driver).toBe('SQLite3');
  });

  it('names the file and line of an sql option it cannot read', () => {
    expect(() => source('\nsql = { driver = "SQLite3"; database = ":memory:" }\n')).toThrow(`${FILE}:2: sql.database ":memory:" keeps nothing`);
    expect(() => source('sql = { driver = "SQLite3"; database = 5 }\n')).toThrow(`${FILE}:1: sql.database must be the SQLite database file`);
    expect(() => source('sql = { driver = "MySQL"; database = "prosody" }\n')).toThrow(`${FILE}:1: sql.driver "MySQL" is not read: convert the data to Prosody's files with prosody-migrator`);
    expect(() => source('sql = { driver = "ODBC"; database = "prosody" }\n')).toThrow(`${FILE}:1: sql.driver "ODBC" is not supported`);
  });

  it('reads a PostgreSQL sql option as Clove reads its own', () => {
    const s = source('sql = { driver = "PostgreSQL"; database = "prosody"; host = "/run/postgresql"; username = "prosody"; password = "secret" }\n');
    expect(s.driver).toBe('PostgreSQL');
    expect(s.driver === 'PostgreSQL' && s.settings).toMatchObject({ database: 'prosody', host: '/run/postgresql', username: 'prosody', password: 'secret' });
  });
});
