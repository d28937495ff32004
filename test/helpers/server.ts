// Start a real Clove server in-process for tests: 127.0.0.1, port 0, a temp data directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { silentLogger, createLogger } from '../../src/core/log.js';
import { createMemoryBackend } from '../../src/storage/memory.js';

export interface TestServer {
  server: RunningServer;
  port: number;
  /** The HTTP port (with `http: true`, once a module serves a route); 0 otherwise. */
  readonly httpPort: number;
  domain: string;
  dir: string;
  /** Create an account directly in the server's store. */
  addUser(user: string, password: string, host?: string): Promise<void>;
  stop(): Promise<void>;
}

/** One certificate directory for the whole run, so RSA keys are generated once. */
export const TEST_CERT_DIR = join(tmpdir(), 'clove-test-certs');

export interface TestServerOptions {
  /** Extra config lines (global section), e.g. 'c2s_require_encryption = false'. */
  extra?: string;
  /** Host sections; default `VirtualHost "localhost"`. */
  hosts?: string;
  /** 'memory' (default, fast), 'file' (in the temp dir), or a backend the test built (e.g. one that wraps the memory backend). */
  storage?: 'memory' | 'file' | import('../../src/storage/store.js').StorageBackend;
  /** Reuse this data directory (restart tests). */
  dir?: string;
  /** Listen for s2s on a free port (federation tests). */
  s2s?: boolean;
  /** Set `http_ports = { 0 }`: the HTTP service listens on a free port once a module serves a route. */
  http?: boolean;
  /** Outbound connector (federation tests use the real one through a test SOCKS5 proxy). */
  connector?: import('../../src/net/connector.js').Connector;
  /** Module definitions added to Clove's own (a test component for `Component "x" "name"`): startServer's extraModules seam. */
  extraModules?: readonly import('../../src/core/modules.js').ModuleDefinition[];
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'clove-test-')));
  const text = [
    'interfaces = { "127.0.0.1" }',
    'c2s_ports = { 0 }',
    opts.s2s ? 's2s_ports = { 0 }' : 's2s_ports = { }',
    ...(opts.http ? ['http_ports = { 0 }'] : []),
    `data_path = ${JSON.stringify(join(dir, 'data'))}`,
    `certificates = ${JSON.stringify(TEST_CERT_DIR)}`,
    'clove_bcrypt_cost = 4',
    opts.extra ?? '',
    opts.hosts ?? 'VirtualHost "localhost"',
  ].join('\n');
  const log = process.env.CLOVE_TEST_LOG ? createLogger([{ level: 'debug', to: 'console' }]).log : silentLogger();
  let config: ReturnType<typeof parseConfig>;
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    config = parseConfig(text, join(dir, 'test.cfg.lua'));
    server = await startServer({ config, log, storage: opts.storage === 'file' ? undefined : typeof opts.storage === 'object' ? opts.storage : createMemoryBackend(), ...(opts.connector ? { connector: opts.connector } : {}), ...(opts.extraModules ? { extraModules: opts.extraModules } : {}) });
  } catch (err) {
    // A server that did not start (a test of a bad config) leaves no directory behind either.
    if (!opts.dir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const domain = config.virtualHosts()[0] as string;
  return {
    server,
    port: server.c2sPort,
    get httpPort() { return server.httpPort; },
    domain,
    dir,
    addUser: (user, password, host = domain) => server.hosts.get(host)!.accounts.create(user, password),
    async stop() {
      await server.stop();
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
