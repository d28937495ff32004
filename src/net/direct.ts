// Ordinary Internet federation: find and connect to a domain's XMPP server.
// References: RFC 6120 §3.2 (SRV lookup, fallback), RFC 2782 (priority and weight).
// Only reached when darknet_only is off and no route policy claimed the domain; the darknet
// module routes every .i2p name elsewhere, so nothing here ever sees one.
import dns from 'node:dns';
import type { SrvRecord } from 'node:dns';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { ConnectError, type ConnectOptions } from './connector.js';
import { handOver } from './socks5.js';

const XMPP_SERVER_PORT = 5269;
/** One dead address must not use up the whole budget of a slow-tunnel-sized timeout. */
const ATTEMPT_MS = 20_000;

/** What the direct connector needs from the outside world (real DNS and TCP by default; fakes in tests). */
export interface DirectDeps {
  resolveSrv(name: string): Promise<SrvRecord[]>;
  lookup(host: string): Promise<{ address: string; family: number }[]>;
  connect(address: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<Socket>;
  random(): number;
}

// Looked up on the module object at call time (not bound at import), so a test that
// instruments `dns` sees every call.
const realDeps: DirectDeps = {
  resolveSrv: (name) => dns.promises.resolveSrv(name),
  lookup: (host) => dns.promises.lookup(host, { all: true, verbatim: true }),
  connect: tcpAttempt,
  random: Math.random,
};

/** SRV records in the order to try them: lowest priority first, weighted random within one (RFC 2782). */
export function orderSrv(records: readonly SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of records) byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
  const out: SrvRecord[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    // RFC 2782: weight-0 records first in the running sum so they keep a small chance.
    const left = [...(byPriority.get(priority) as SrvRecord[])].sort((a, b) => (a.weight === 0 ? -1 : 0) - (b.weight === 0 ? -1 : 0));
    while (left.length > 0) {
      const total = left.reduce((sum, r) => sum + r.weight, 0);
      const pick = Math.floor(random() * (total + 1));
      let running = 0;
      let index = left.length - 1;
      for (let i = 0; i < left.length; i++) {
        running += (left[i] as SrvRecord).weight;
        if (running >= pick) { index = i; break; }
      }
      out.push(...left.splice(index, 1));
    }
  }
  return out;
}

/** Connect to `domain`'s XMPP server: SRV `_xmpp-server._tcp`, else A/AAAA on the domain at 5269. */
export async function directConnect(domain: string, opts: ConnectOptions, deps: Partial<DirectDeps> = {}): Promise<Socket> {
  const d: DirectDeps = { ...realDeps, ...deps };
  const deadline = Date.now() + opts.timeoutMs;
  const failures: string[] = [];
  const check = (): void => {
    if (opts.signal?.aborted) throw new ConnectError('aborted', `connection to ${domain} was cancelled`);
    if (Date.now() >= deadline) throw new ConnectError('timeout', `could not connect to ${domain} within ${Math.round(opts.timeoutMs / 1000)} s${failures.length ? ` (${failures.join('; ')})` : ''}`);
  };

  // A domain that is an IP literal (RFC 7622 allows it) has no SRV records to ask for.
  const literal = domain.replace(/^\[(.*)\]$/, '$1');
  let records: SrvRecord[] = [];
  if (!isIP(literal)) {
    try {
      records = await d.resolveSrv(`_xmpp-server._tcp.${domain}`);
    } catch {
      // No SRV records (or no answer): RFC 6120 §3.2.2 falls back to the domain itself.
    }
    check();
  }
  if (records.length === 1 && (records[0]?.name === '' || records[0]?.name === '.')) {
    throw new ConnectError('dns', `${domain} says it offers no XMPP federation (its _xmpp-server._tcp SRV target is ".")`);
  }
  const targets = records.length > 0 ? orderSrv(records, d.random).map((r) => ({ host: r.name, port: r.port })) : [{ host: literal, port: XMPP_SERVER_PORT }];

  // RFC 6120 §3.2.1 step 8: when SRV answered, do not fall back to A/AAAA on the domain after
  // its targets fail; that could reach a machine that does not serve this domain.
  for (const t of targets) {
    let addresses: { address: string; family: number }[];
    if (isIP(t.host)) addresses = [{ address: t.host, family: isIP(t.host) }];
    else {
      try {
        addresses = await d.lookup(t.host);
      } catch (err) {
        failures.push(`${t.host}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        check();
        continue;
      }
    }
    for (const a of addresses) {
      check();
      try {
        return await d.connect(a.address, t.port, Math.min(ATTEMPT_MS, deadline - Date.now()), opts.signal);
      } catch (err) {
        failures.push(`${a.family === 6 ? `[${a.address}]` : a.address}:${t.port} (${t.host}): ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  check();
  const code = failures.length > 0 && failures.every((f) => /ENOTFOUND|ENODATA|EAI_/.test(f)) ? 'dns' : 'network';
  throw new ConnectError(code, `could not connect to ${domain}: ${failures.join('; ') || 'no addresses found'}`);
}

/** One TCP connection attempt to an IP address, with its own timeout. */
function tcpAttempt(address: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: address, port });
    const done = (err?: Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.removeListener('connect', onConnect);
      socket.removeListener('error', onError);
      if (!err) {
        handOver(socket);
        return resolve(socket);
      }
      socket.on('error', () => { /* late errors of an attempt we gave up on */ });
      socket.destroy();
      reject(err);
    };
    const onConnect = (): void => done();
    const onError = (err: NodeJS.ErrnoException): void => done(new Error(err.code ?? err.message));
    const onAbort = (): void => done(new Error('cancelled'));
    const timer = setTimeout(() => done(new Error('timed out')), Math.max(0, timeoutMs));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', onConnect);
    socket.once('error', onError);
  });
}
