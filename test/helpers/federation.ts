// Two Clove servers on b32 domains federating through one SOCKS5 test proxy (i2pd's stand-in),
// for the s2s e2e tests: started together, each reachable from the other by its b32 name only.
import { startTestServer, type TestServer } from './server.js';
import { SocksProxy, darknetConfig } from './socks-proxy.js';

export interface Federation {
  proxy: SocksProxy;
  a: TestServer;
  b: TestServer;
  /** Stop both servers, then the proxy. */
  stop(): Promise<void>;
}

/** Servers for `domainA` and `domainB` (each `VirtualHost` plus `extra` config lines) behind a new proxy. */
export function startFederation(domainA: string, domainB: string, ...extra: string[]): Promise<Federation> {
  return startFederationWith({ a: domainA, b: domainB, extraA: extra, extraB: extra });
}

/** As startFederation, with each side's own config lines and sections after B's VirtualHost (components). */
export async function startFederationWith(o: { a: string; b: string; extraA?: string[]; extraB?: string[]; sectionsB?: string }): Promise<Federation> {
  const proxy = await SocksProxy.start();
  const a = await startTestServer({ s2s: true, extra: darknetConfig(proxy.port, ...(o.extraA ?? [])), hosts: `VirtualHost "${o.a}"` });
  const b = await startTestServer({ s2s: true, extra: darknetConfig(proxy.port, ...(o.extraB ?? [])), hosts: `VirtualHost "${o.b}"\n${o.sectionsB ?? ''}` });
  proxy.map(o.a, a.server.s2sPort).map(o.b, b.server.s2sPort);
  return {
    proxy, a, b,
    stop: async () => {
      await a.stop();
      await b.stop();
      await proxy.close();
    },
  };
}
