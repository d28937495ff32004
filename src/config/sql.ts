// Prosody's `sql` option for storage = "sql": { driver = "PostgreSQL"; database = "clove";
// host = "localhost"; port = 5432; username = "clove"; password = "…" }, checked here so a bad
// table stops the start with file:line. The password is never put into an error or a log line.
import type { Config } from './config.js';
import { ConfigError } from './errors.js';

/** The `sql` table with Clove's pool options (sql_pool_size, …), ready for the SQL backend. */
export interface SqlSettings {
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

/** The SQL settings of `config` (call only when storage = "sql"). */
export function sqlSettings(config: Config): SqlSettings {
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
  if (/^sqlite/i.test(driver)) fail('sql.driver "SQLite3" is not supported: its only fitting Node driver blocks the event loop (docs/storage.md); use "PostgreSQL"');
  if (!/^postgres(ql)?$/i.test(driver)) fail(`sql.driver "${driver}" is not supported; use "PostgreSQL"`);
  const database = str('database');
  if (database === undefined) fail('sql.database is missing (the PostgreSQL database name)');
  let port: number | undefined;
  if (o.port !== undefined) {
    const p = typeof o.port === 'string' ? Number(o.port) : o.port;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) fail('sql.port must be a port number 1..65535');
    port = p as number;
  }
  const s: SqlSettings = {
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
