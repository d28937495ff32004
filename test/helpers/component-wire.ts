// XEP-0114 on the one raw test client (wire.ts, parsed with sax): open a jabber:component:accept
// stream and send the handshake computed here with node:crypto, independent of src/. Used for
// the cases slixmpp cannot be made to produce (a bad `from`, an unknown domain, a second link).
import { createHash } from 'node:crypto';
import { NS_STREAMS, Wire } from './wire.js';

/** Connect and send a component stream header to `domain`; resolves once the server's header arrived. */
export async function openComponentStream(port: number, domain: string, timeoutMs = 5000): Promise<Wire> {
  const w = await Wire.connect({ port, domain, timeoutMs });
  w.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='${NS_STREAMS}' to='${domain}'>`);
  await w.streamHeader(1);
  return w;
}

/** Send the handshake for `secret`; true once the server answers <handshake/>, false when it ends the stream instead. */
export async function componentHandshake(w: Wire, secret: string): Promise<boolean> {
  const id = w.headers[0]?.id ?? '';
  w.send(`<handshake>${createHash('sha1').update(id + secret).digest('hex')}</handshake>`);
  return w.until(() => (w.received.some((el) => el.name === 'handshake') ? 'yes' : w.streamEnded || w.closed ? 'no' : undefined), 'the handshake answer') .then((r) => r === 'yes');
}

/** The stream error condition the server ended the stream with, once the connection closed. */
export async function closedWith(w: Wire): Promise<string> {
  await w.whenClosed;
  return w.received.find((el) => el.name === 'stream:error')?.elements()[0]?.name ?? '(none)';
}
