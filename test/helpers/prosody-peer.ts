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
    clove = await startTestServer({ s2s: true, hosts: `VirtualHost "${o.clove}"`, extra: [`darknet_socks5_port = ${proxy.port}`, `darknet_map = { ["${o.prosody}"] = "${o.prosodyB32}" }`, ...(o.cloveExtra ?? [])].join('\n') });
    for (const u of o.cloveUsers) await clove.addUser(u.user, u.password);
    prosody = await startProsody({ domain: o.prosody, users: o.prosodyUsers, onions: { socksPort: proxy.port, map: { [o.clove]: o.clove }, only: true } });
    proxy.map(o.clove, clove.server.s2sPort).map(o.prosodyB32, prosody.s2sPort);
    return { proxy, clove, prosody, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
