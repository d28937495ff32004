#!/usr/bin/env node
// The s2s benchmark's stand-in for i2pd's SOCKS5 proxy: a CONNECT to one of the mapped
// `.b32.i2p` names (whatever port was asked for) is joined to 127.0.0.1:<mapped port>, and from
// then on bytes are piped both ways untouched. Like i2pd it answers success as ATYP 1
// 0.0.0.0:0 (mod_onions accepts nothing else) and failure as 0x04 (host unreachable).
// Only what both servers send: no authentication (method 0), CONNECT, ATYP 3 (a name).
// References: RFC 1928.
//
// Run as its own process so its CPU time is measured apart from the load generator's:
//   node bench/lib/s2s-proxy.mjs --port P --map name=port [--map name=port …]
// It prints one line per CONNECT ("connect <name>:<port> -> <local port>"), per STARTTLS seen
// ("tls <name>") and per closed connection ("close <name> up=<bytes> down=<bytes>") on stdout.

import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const OK = Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
const UNREACHABLE = Buffer.from([5, 4, 0, 1, 0, 0, 0, 0, 0, 0]);

/**
 * Starts the proxy on 127.0.0.1:`port` (0 = any). `map`: lower-case name → local port.
 * `onConnect(name, port, localPort)` hears about every CONNECT, `onTls(name)` about the first TLS
 * record the initiator sends on it, `onClose(name, bytesUp, bytesDown)` about its end (bytes as
 * seen on the initiator's side). Resolves with the net.Server.
 */
export function startProxy({ port = 0, map, onConnect = () => {}, onTls = () => {}, onClose = () => {} }) {
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    client.on('error', () => client.destroy());
    let buf = Buffer.alloc(0);
    let stage = 'greeting';
    const onData = (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (stage === 'greeting') {
        // VER NMETHODS METHODS…
        if (buf.length < 2 || buf.length < 2 + buf[1]) return;
        if (buf[0] !== 5 || !buf.subarray(2, 2 + buf[1]).includes(0)) {
          client.end(Buffer.from([5, 0xff]));
          return;
        }
        buf = buf.subarray(2 + buf[1]);
        client.write(Buffer.from([5, 0]));
        stage = 'request';
      }
      if (stage === 'request') {
        // VER CMD RSV ATYP=3 LEN NAME PORT(2)
        if (buf.length < 5) return;
        if (buf[0] !== 5 || buf[1] !== 1 || buf[3] !== 3) {
          client.end(Buffer.from([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
          return;
        }
        const end = 5 + buf[4] + 2;
        if (buf.length < end) return;
        const name = buf.subarray(5, 5 + buf[4]).toString('latin1').toLowerCase();
        const askedPort = buf.readUInt16BE(5 + buf[4]);
        const early = buf.subarray(end); // bytes sent right behind the request, if any
        stage = 'connecting';
        client.off('data', onData);
        client.pause();
        const local = map.get(name);
        onConnect(name, askedPort, local);
        if (!local) {
          client.end(UNREACHABLE);
          return;
        }
        const upstream = net.connect({ host: '127.0.0.1', port: local });
        upstream.setNoDelay(true);
        upstream.on('error', () => {
          if (stage === 'connecting') client.end(UNREACHABLE);
          else client.destroy();
          upstream.destroy();
        });
        client.on('close', () => {
          upstream.destroy();
          onClose(name, client.bytesRead, client.bytesWritten);
        });
        upstream.on('close', () => client.destroy());
        upstream.once('connect', () => {
          stage = 'piping';
          client.write(OK);
          if (early.length) upstream.write(early);
          // STARTTLS check: the initiator's first TLS record (a handshake record, 0x16 0x03)
          // after the plaintext stream header. Only watched until seen.
          const watch = (chunk) => {
            if (chunk.length >= 2 && chunk[0] === 0x16 && chunk[1] === 0x03) {
              client.off('data', watch);
              onTls(name);
            }
          };
          client.on('data', watch);
          client.pipe(upstream);
          upstream.pipe(client);
          client.resume();
        });
      }
    };
    client.on('data', onData);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// As a process: the bench starts it pinned to the generator's CPU and stops it by PID.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, map: { type: 'string', multiple: true, default: [] } },
  });
  const map = new Map(
    values.map.map((m) => {
      const i = m.lastIndexOf('=');
      return [m.slice(0, i).toLowerCase(), Number(m.slice(i + 1))];
    }),
  );
  const server = await startProxy({
    port: Number(values.port),
    map,
    onConnect: (name, port, local) => console.log(`connect ${name}:${port} -> ${local ?? 'unmapped (0x04)'}`),
    onTls: (name) => console.log(`tls ${name}`),
    onClose: (name, up, down) => console.log(`close ${name} up=${up} down=${down}`),
  });
  console.log(`listening 127.0.0.1:${server.address().port}`);
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
