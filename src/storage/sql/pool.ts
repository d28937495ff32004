// The connection pool of the SQL backend over `pg` (node-postgres): a bounded number of
// connections, a bounded queue of requests waiting for one, a statement timeout on every
// connection, and transactions that commit before they resolve (synchronous_commit is left at
// the server's default, on: a resolved commit is on the server's disk).
import pg from 'pg';
import { StorageBusyError } from '../store.js';

/** Where and how to connect, in Prosody's `sql = { … }` names. */
export interface PostgresOptions {
  driver: 'PostgreSQL';
  database: string;
  /** A host name, an address, or a directory holding the server's Unix socket. */
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  /** Connections at most (sql_pool_size). */
  poolSize?: number;
  /** Requests that may wait for a free connection (sql_queue_max); one more fails at once. */
  queueMax?: number;
  /** Milliseconds a statement may run before the server cancels it (sql_statement_timeout). */
  statementTimeoutMs?: number;
  /** Milliseconds to wait for a new connection. */
  connectTimeoutMs?: number;
  /** A schema (created beforehand) for Clove's tables instead of `public`; tests use one each. */
  schema?: string;
}

/** Defaults of the pool, documented in docs/limits.md. */
export const SQL_DEFAULTS = { poolSize: 8, queueMax: 4096, statementTimeoutMs: 30_000, connectTimeoutMs: 10_000 } as const;

/** A request refused because every connection is busy and the wait queue is full. */
export class SqlBusyError extends StorageBusyError {
  override name = 'SqlBusyError';
  constructor(max: number) {
    super(`SQL storage: ${max} requests already wait for a connection`);
  }
}

/** What a statement runs on: the pool (one statement, autocommit) or a transaction's client. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

// int8 (counts, sequence numbers) as numbers: every one Clove stores is below 2^53.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A bounded pool of connections to one database. */
export class SqlPool implements Queryable {
  private readonly pool: pg.Pool;
  private readonly queueMax: number;

  /** `exitOnIdle`: idle connections do not keep the process alive (the read-only pool after close). */
  constructor(readonly options: PostgresOptions, exitOnIdle = false) {
    this.queueMax = options.queueMax ?? SQL_DEFAULTS.queueMax;
    this.pool = new pg.Pool({
      database: options.database,
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.username !== undefined ? { user: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      max: options.poolSize ?? SQL_DEFAULTS.poolSize,
      statement_timeout: options.statementTimeoutMs ?? SQL_DEFAULTS.statementTimeoutMs,
      connectionTimeoutMillis: options.connectTimeoutMs ?? SQL_DEFAULTS.connectTimeoutMs,
      idleTimeoutMillis: exitOnIdle ? 1000 : 30_000,
      allowExitOnIdle: exitOnIdle,
      application_name: 'clove',
      ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {}),
      types,
    });
    // A connection that drops while idle is removed by pg; without a listener the error would be thrown.
    this.pool.on('error', () => undefined);
  }

  /** One statement on any free connection (its own transaction). */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const client = await this.acquire();
    try {
      return await client.query<R>(text, values);
    } finally {
      client.release();
    }
  }

  /**
   * Run `f` in one transaction: committed before the promise resolves, rolled back when `f`
   * throws. `readOnly` takes a consistent snapshot for several reads.
   */
  async transaction<T>(f: (q: Queryable) => Promise<T>, readOnly = false): Promise<T> {
    const client = await this.acquire();
    let broken: unknown;
    try {
      await client.query(readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
      try {
        const out = await f(client);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch((r: unknown) => {
          broken = r;
        });
        throw e;
      }
    } finally {
      // A connection whose rollback failed is in an unknown state: destroy it, never reuse it.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  /** Close every connection (queries in flight finish first). */
  async end(): Promise<void> {
    await this.pool.end();
  }

  private async acquire(): Promise<pg.PoolClient> {
    if (this.pool.waitingCount >= this.queueMax) throw new SqlBusyError(this.queueMax);
    return this.pool.connect();
  }
}
