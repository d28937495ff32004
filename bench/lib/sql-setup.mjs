// A PostgreSQL cluster for a bench run (./postgres.mjs) and the Clove config lines that use a
// fresh database on it.
import pg from 'pg';
import { startPostgres } from './postgres.mjs';

/** Start a cluster; configLines(db) creates database `db` and returns Clove's storage lines for it. */
export async function postgresSetup(say) {
  const { pg: info, stop } = await startPostgres({ durable: true });
  const admin = new pg.Client({ host: info.host, port: info.port, user: info.username, password: info.password, database: 'postgres' });
  await admin.connect();
  const version = (await admin.query('SHOW server_version')).rows[0].server_version;
  say(`PostgreSQL ${version} on ${info.host}:${info.port}`);
  return {
    version,
    info,
    /** The SqlOptions fields of database `db` (without driver). */
    sqlOptions(db) {
      return { database: db, host: info.socketDir, port: info.port, username: info.username, password: info.password };
    },
    async configLines(db) {
      await admin.query(`CREATE DATABASE ${db}`);
      return ['storage = "sql"', `sql = { driver = "PostgreSQL"; database = "${db}"; host = "${info.socketDir}"; port = ${info.port}; username = "${info.username}"; password = "${info.password}" }`];
    },
    async stop() {
      await admin.end();
      await stop();
    },
  };
}
