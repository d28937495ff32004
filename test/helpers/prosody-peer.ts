// A Clove server and a Prosody 0.12 peer federating through the SOCKS5 test proxy (i2pd's
// stand-in): Clove (in-process, s2s on) reaches Prosody's domain through its b32 name in
// darknet_map; Prosody reaches Clove's b32 name through mod_onions; the proxy maps both b32 names
// to the servers' s2s ports.
import { startTestServer, type TestServer } from './server.js';
import { SocksProxy } from './socks-proxy.js';
import { startProsody, type ProsodyServer } from './prosody.js';

export interface ProsodyPeerOptions {
  /** Clove's VirtualHost (a b32 name). */
  clove: string;
  /** Prosody's VirtualHost, and the b32 name Clove dials for it. */
  prosody: string;
  prosodyB32: string;
  cloveUsers: ReadonlyArray<{ user: string; password: string }>;
  prosodyUsers: ReadonlyArray<{ user: string; password: string }>;
  /** More Clove config lines. */
  cloveExtra?: string[];
  /** Sections after Clove's VirtualHost (components). */
  cloveSections?: string;
  /** More of Clove's darknet_map: a domain of Prosody's (a component) → the b32 name it is reached at. */
  cloveMap?: Readonly<Record<string, string>>;
  /** More names of Clove's that Prosody reaches (a component's domain → Clove's b32 name); the proxy sends each b32 name to Clove. */
  prosodyMap?: Readonly<Record<string, string>>;
  /** Prosody's components. */
  prosodyComponents?: ReadonlyArray<{ domain: string; module: string }>;
}

export interface ProsodyPeer {
  proxy: SocksProxy;
  clove: TestServer;
  prosody: ProsodyServer;
  stop(): Promise<void>;
}

/** Start the proxy, Clove and Prosody, wired to each other; stop() stops all three. */
export async function startProsodyPeer(o: ProsodyPeerOptions): Promise<ProsodyPeer> {
  const proxy = await SocksProxy.start();
  let clove: TestServer | undefined;
  let prosody: ProsodyServer | undefined;
  const stop = async (): Promise<void> => {
    await prosody?.stop();
    await clove?.stop();
    await proxy.close();
  };
  try {
    const darknetMap = Object.entries({ [o.prosody]: o.prosodyB32, ...o.cloveMap }).map(([d, b32]) => `["${d}"] = "${b32}"`).join('; ');
    clove = await startTestServer({
      s2s: true,
      hosts: `VirtualHost "${o.clove}"\n${o.cloveSections ?? ''}`,
      extra: [`darknet_socks5_port = ${proxy.port}`, `darknet_map = { ${darknetMap} }`, ...(o.cloveExtra ?? [])].join('\n'),
    });
    for (const u of o.cloveUsers) await clove.addUser(u.user, u.password);
    const names = { [o.clove]: o.clove, ...o.prosodyMap };
    prosody = await startProsody({ domain: o.prosody, users: o.prosodyUsers, onions: { socksPort: proxy.port, map: names, only: true }, ...(o.prosodyComponents ? { components: o.prosodyComponents } : {}) });
    for (const b32 of new Set(Object.values(names))) proxy.map(b32, clove.server.s2sPort);
    proxy.map(o.prosodyB32, prosody.s2sPort);
    return { proxy, clove, prosody, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
