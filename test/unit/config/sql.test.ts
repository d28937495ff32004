// The `sql` option (Prosody's names) read into the SQL backend's settings: defaults, the pool
// options, SQLite's file in data_path, and one line naming file:line for every bad table —
// never with the password in it.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { sqlSettings } from '../../../src/config/sql.js';

const F = '/etc/clove/clove.cfg.lua';
const read = (text: string) => sqlSettings(parseConfig(text, F));

describe('sql option', () => {
  it("reads Prosody's fields and the pool options", () => {
    const s = read('storage = "sql"\nsql = { driver = "PostgreSQL"; database = "clove"; host = "/var/run/postgresql"; port = 5433; username = "clove"; password = "s3cret" }\nsql_pool_size = 3\nsql_statement_timeout = 2.5\n');
    expect(s).toEqual({ driver: 'PostgreSQL', database: 'clove', host: '/var/run/postgresql', port: 5433, username: 'clove', password: 's3cret', poolSize: 3, queueMax: 4096, statementTimeoutMs: 2500 });
    expect(read('sql = { database = "x" }')).toEqual({ driver: 'PostgreSQL', database: 'x', poolSize: 8, queueMax: 4096, statementTimeoutMs: 30_000 });
  });

  it('SQLite3: a file in data_path, clove.sqlite without an sql option (as Prosody defaults to its prosody.sqlite)', () => {
    expect(read('data_path = "/var/lib/clove"\nstorage = "sql"')).toEqual({ driver: 'SQLite3', database: '/var/lib/clove/clove.sqlite', queueMax: 4096, busyTimeoutMs: 30_000 });
    expect(read('data_path = "/var/lib/clove"\nsql = { driver = "SQLite3"; database = "db/x.sqlite" }\nsql_queue_max = 9\nsql_statement_timeout = 2')).toEqual({ driver: 'SQLite3', database: '/var/lib/clove/db/x.sqlite', queueMax: 9, busyTimeoutMs: 2000 });
    expect(read('data_path = "/var/lib/clove"\nsql = { driver = "sqlite3"; database = "/srv/clove.db" }')).toMatchObject({ driver: 'SQLite3', database: '/srv/clove.db' });
  });

  it.each([
    ['SQLite3 with a host', 'sql = { driver = "SQLite3"; database = "x"; host = "h"; password = "s3cret" }', `${F}:1: sql: field 'host' has no meaning for driver "SQLite3"`],
    ['SQLite3 in memory', 'sql = { driver = "SQLite3"; database = ":memory:" }', `${F}:1: sql.database ":memory:" would lose everything at exit`],
    ['MySQL', 'sql = { driver = "MySQL"; database = "x" }', `${F}:1: sql.driver "MySQL" is not supported; use "PostgreSQL" or "SQLite3"`],
    ['no database', '\nsql = { driver = "PostgreSQL" }', `${F}:2: sql.database is missing`],
    ['unknown field', 'sql = { database = "x"; passwd = "s3cret" }', `${F}:1: sql: unknown field 'passwd'`],
    ['bad port', 'sql = { database = "x"; port = 70000; password = "s3cret" }', `${F}:1: sql.port must be a port number 1..65535`],
    ['not a table', 'sql = "postgres://u:s3cret@h/db"', `${F}:1: expected a table { … } for option 'sql', got string`],
  ])('%s: one line with file:line', (_what, text, start) => {
    let msg = '';
    try {
      read(text);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg.startsWith(start), msg).toBe(true);
    expect(msg).not.toContain('s3cret');
  });
});
