// Prosody's `sql` option for storage = "sql": { driver = "PostgreSQL"; database = "clove";
// host = "localhost"; port = 5432; username = "clove"; password = "…" }, or { driver = "SQLite3";
// database = "clove.sqlite" } (a file in data_path; also what storage = "sql" without an `sql`
// option means, as in Prosody), checked here so a bad table stops the start with file:line. The
// password is never put into an error or a log line.
import path from 'node:path';
import type { Config } from './config.js';
import { ConfigError } from './errors.js';

/** The database file of SQLite3 when `sql` names none (Prosody's is prosody.sqlite; Clove's tables differ). */
export const SQLITE_DEFAULT_DATABASE = 'clove.sqlite';

/** The `sql` table with Clove's pool options (sql_pool_size, …), ready for the SQL backend. */
export type SqlSettings = PostgresSettings | SqliteSettings;

/** SQLite3: the file, and how many requests may wait for it. */
export interface SqliteSettings {
  driver: 'SQLite3';
  /** Absolute path of the database file. */
  database: string;
  queueMax: number;
  busyTimeoutMs: number;
}

/** PostgreSQL: where to connect, and the pool's options. */
export interface PostgresSettings {
  driver: 'PostgreSQL';
  database: string;
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  poolSize: number;
  queueMax: number;
  statementTimeoutMs: number;
}

const KNOWN = ['driver', 'database', 'host', 'port', 'username', 'password'];

const SQLITE_KNOWN = ['driver', 'database'];

/** Whether a `sql` table's driver names SQLite (Prosody's "SQLite3"; any case, the 3 optional). */
export function isSqliteDriver(driver: unknown): boolean {
  return typeof driver === 'string' && /^sqlite3?$/i.test(driver);
}

/** The SQL settings of `config` (call only when storage = "sql"); no `sql` option means SQLite3 in data_path. */
export function sqlSettings(config: Config): SqlSettings {
  const found = config.lookup('sql');
  const t = found?.value;
  const driver = typeof t === 'object' && t !== null && !Array.isArray(t) ? (t as Record<string, unknown>).driver : undefined;
  if (!found || isSqliteDriver(driver)) return sqliteSettings(config, found);
  return postgresSettings(config);
}

/** SQLite3 settings: the `sql` table's database (default SQLITE_DEFAULT_DATABASE), taken from data_path. */
function sqliteSettings(config: Config, found: ReturnType<Config['lookup']>): SqliteSettings {
  const o = (found?.value ?? {}) as Record<string, unknown>;
  const fail = (what: string): never => {
    throw new ConfigError(config.file, found?.line ?? config.lineOf('storage') ?? 0, what, 'sql');
  };
  for (const k of Object.keys(o)) if (!SQLITE_KNOWN.includes(k)) fail(`sql: field '${k}' has no meaning for driver "SQLite3" (known: ${SQLITE_KNOWN.join(', ')})`);
  const database = o.database ?? SQLITE_DEFAULT_DATABASE;
  if (typeof database !== 'string' || database === '') return fail('sql.database must be a non-empty string (the SQLite file, taken from data_path)');
  if (database === ':memory:') fail('sql.database ":memory:" would lose everything at exit; use storage = "memory" for that');
  return {
    driver: 'SQLite3',
    database: path.resolve(config.get<string>('data_path'), database),
    queueMax: config.get<number>('sql_queue_max'),
    busyTimeoutMs: Math.round(config.get<number>('sql_statement_timeout') * 1000), // better-sqlite3 takes whole milliseconds only
  };
}

/** PostgreSQL settings of `config`'s `sql` table. */
export function postgresSettings(config: Config): PostgresSettings {
  const found = config.lookup('sql');
  const line = found?.line ?? config.lineOf('storage') ?? 0;
  const fail = (what: string): never => {
    throw new ConfigError(config.file, line, what, 'sql');
  };
  if (!found) return fail('storage = "sql" needs sql = { driver = "PostgreSQL"; database = "clove"; host = "localhost"; username = "clove"; password = "…" }');
  const t = found.value;
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return fail('option \'sql\' must be a table such as { driver = "PostgreSQL"; database = "clove" }');
  const o = t as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.includes(k)) fail(`sql: unknown field '${k}' (known: ${KNOWN.join(', ')})`);
  const str = (k: string): string | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') fail(`sql.${k} must be a non-empty string`);
    return v as string;
  };
  const driver = str('driver') ?? 'PostgreSQL';
  if (!/^postgres(ql)?$/i.test(driver)) fail(`sql.driver "${driver}" is not supported; use "PostgreSQL" or "SQLite3"`);
  const database = str('database');
  if (database === undefined) fail('sql.database is missing (the PostgreSQL database name)');
  let port: number | undefined;
  if (o.port !== undefined) {
    const p = typeof o.port === 'string' ? Number(o.port) : o.port;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) fail('sql.port must be a port number 1..65535');
    port = p as number;
  }
  const s: PostgresSettings = {
    driver: 'PostgreSQL',
    database: database!,
    poolSize: config.get<number>('sql_pool_size'),
    queueMax: config.get<number>('sql_queue_max'),
    statementTimeoutMs: config.get<number>('sql_statement_timeout') * 1000,
  };
  const host = str('host');
  const username = str('username');
  // An empty password is allowed (trust or peer authentication needs none).
  const password = o.password;
  if (password !== undefined && typeof password !== 'string') fail('sql.password must be a string');
  if (host !== undefined) s.host = host;
  if (port !== undefined) s.port = port;
  if (username !== undefined) s.username = username;
  if (typeof password === 'string' && password !== '') s.password = password;
  return s;
}
