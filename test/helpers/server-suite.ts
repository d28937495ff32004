// One test server for a whole test file, with fresh accounts on it (testUsers): started before
// the first test, stopped after the last, and every client logged in through it closed after
// each test. Call it at the top level of the file.
//
//   const t = serverSuite('secret');
//   const c = await t.login(await t.account('alice'), 'r1');
//   t.srv.domain;
import { afterAll, afterEach, beforeAll } from 'vitest';
import { testUsers, type TestUsers } from './contacts.js';
import { startTestServer, type TestServer, type TestServerOptions } from './server.js';

export interface ServerSuite extends TestUsers {
  /** The running test server (from beforeAll on). */
  readonly srv: TestServer;
}

export function serverSuite(password: string, opts: TestServerOptions = {}): ServerSuite {
  let server: TestServer | undefined;
  const running = (): TestServer => {
    if (!server) throw new Error('serverSuite: the test server is not running (used outside a test?)');
    return server;
  };
  const users = testUsers(running, password);
  beforeAll(async () => {
    server = await startTestServer(opts);
  });
  afterEach(users.closeAll);
  afterAll(async () => {
    await server?.stop();
  });
  return {
    ...users,
    get srv() {
      return running();
    },
  };
}
