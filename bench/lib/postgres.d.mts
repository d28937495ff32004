// Types of ./postgres.mjs for the TypeScript tests.
/** How clients reach a test cluster. */
export interface TestPostgres {
  host: string;
  port: number;
  username: string;
  password: string;
  /** The Unix socket directory. */
  socketDir: string;
  /** Server binaries (pg_dump …). */
  binDir: string;
}
/** Start a throwaway cluster; stop() ends its postmaster by PID and removes its directory. */
export function startPostgres(opts?: { durable?: boolean }): Promise<{ pg: TestPostgres; stop: () => Promise<void> }>;
