// TLS over socketView (what outgoing s2s TLS runs over): real sockets on 127.0.0.1, a real handshake, data both ways, a write
// larger than the socket buffers (its callback waits for the bytes to leave), and both ways of
// closing. The view must not be a net.Socket: Node would then take the native handle instead.
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import tls, { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSelfSigned } from '../../../src/net/certs.js';
import { socketView } from '../../../src/net/socket-view.js';

let context: tls.SecureContext;
let server: net.Server;
let port = 0;
const accepted: TLSSocket[] = [];

beforeAll(async () => {
  const { key, cert } = await generateSelfSigned('localhost', 1);
  context = tls.createSecureContext({ key, cert, minVersion: 'TLSv1.3' });
  server = net.createServer({ noDelay: true }, (raw) => {
    accepted.push(new TLSSocket(socketView(raw), { isServer: true, secureContext: context }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
}, 30_000);

afterAll(() => {
  for (const s of accepted) s.destroy();
  server.close();
});

async function pair(): Promise<{ client: tls.TLSSocket; served: TLSSocket }> {
  const before = accepted.length;
  const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await once(client, 'secureConnect');
  while (accepted.length === before) await new Promise((r) => setTimeout(r, 5));
  const served = accepted[accepted.length - 1]!;
  if (!served.encrypted || served.getProtocol() === null) await once(served, 'secure');
  return { client, served };
}

/** Reads until `n` bytes have come (the socket stays open), then pauses it again. */
function readBytes(sock: tls.TLSSocket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      got += chunk.length;
      if (got < n) return;
      sock.off('data', onData);
      sock.off('error', reject);
      sock.pause();
      resolve(Buffer.concat(parts));
    };
    sock.on('data', onData);
    sock.once('error', reject);
  });
}

describe('socketView', () => {
  it('is not a net.Socket, so TLS runs over it in JavaScript', () => {
    const raw = new net.Socket();
    expect(socketView(raw)).not.toBeInstanceOf(net.Socket);
    raw.destroy();
  });

  it('carries a TLS 1.3 session both ways, and a large write completes only once sent', async () => {
    const { client, served } = await pair();
    expect(served.getProtocol()).toBe('TLSv1.3');
    client.write('hello');
    expect((await readBytes(served, 5)).toString()).toBe('hello');

    const big = Buffer.alloc(64 * 1024 * 1024, 7);
    let written = false;
    served.write(big, () => {
      written = true;
    });
    // Nothing read yet: 64 MiB cannot all have left through the kernel's socket buffers, however
    // long the encryption took.
    await new Promise((r) => setTimeout(r, 500));
    expect(written).toBe(false);
    const echoed = await readBytes(client, big.length);
    expect(echoed.length).toBe(big.length);
    await new Promise((r) => setTimeout(r, 50));
    expect(written).toBe(true);
    client.destroy();
  });

  it('passes the peer closing through: end, then close', async () => {
    const { client, served } = await pair();
    const ended = once(served, 'end');
    const closed = once(served, 'close');
    served.resume();
    client.end();
    await ended;
    await closed;
  });

  it('passes the server closing through: the peer sees the end of the stream', async () => {
    const { client, served } = await pair();
    client.resume();
    const ended = once(client, 'end');
    served.end();
    await ended;
    client.destroy();
  });

  it('destroying the TLS socket closes the TCP connection', async () => {
    const { client, served } = await pair();
    client.resume();
    const closed = once(client, 'close');
    served.destroy();
    await closed;
  });
});
