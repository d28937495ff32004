// vitest globalSetup: one throwaway PostgreSQL cluster for the whole run (test/helpers/postgres.ts),
// announced to the test workers in CLOVE_TEST_PG and stopped at the end.
import { PG_ENV, startPostgres } from './helpers/postgres.js';

export default async function setup(): Promise<() => Promise<void>> {
  const { pg, stop } = await startPostgres();
  process.env[PG_ENV] = JSON.stringify(pg);
  return stop;
}
