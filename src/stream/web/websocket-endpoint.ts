// /xmpp-websocket: takes the HTTP service's `Upgrade` requests, checks what RFC 7395 and the
// options ask of them (the `xmpp` subprotocol, the Origin), and runs a c2s stream on each
// WebSocket. The handshake and framing are the `ws` library's (noServer mode on our listener).
// References: RFC 7395 §3.1 (handshake, subprotocol), RFC 6455 §4.2 (Origin), §10.2.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { rawStatus } from '../../net/http/reply.js';
import { StanzaLimitedWebSocket, WebSocketTransport, XMPP_SUBPROTOCOL } from './websocket.js';
import { admitClient, clientRefusal, originAllowed, type WebClientDeps } from './web-client.js';

export interface WebSocketEndpoint {
  /** The HTTP service's upgrade handler for the endpoint's path. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, host: string): void;
  close(): void;
}

/** The WebSocket endpoint; frames are limited to `stanzaSizeLimit` bytes. */
export function webSocketEndpoint(deps: WebClientDeps, stanzaSizeLimit: number): WebSocketEndpoint {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: stanzaSizeLimit, // checked from a frame's header, before its payload is read
    perMessageDeflate: false, // no compression: no decompression bombs, no CRIME-style leaks
    WebSocket: StanzaLimitedWebSocket,
    handleProtocols: (offered) => (offered.has(XMPP_SUBPROTOCOL) ? XMPP_SUBPROTOCOL : false),
  });
  return {
    upgrade(req, socket, head, host) {
      if (!deps.serves(host)) return rawStatus(socket, 404);
      const opts = deps.options();
      if (!originAllowed(req.headers.origin, req.headers.host, deps.ownOrigin(host), opts.crossDomain)) {
        deps.log.info({ origin: req.headers.origin }, 'websocket refused: origin not allowed (cross_domain_websocket)');
        return rawStatus(socket, 403);
      }
      const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
      if (!offered.includes(XMPP_SUBPROTOCOL)) return rawStatus(socket, 400); // RFC 7395 §3.1
      if (clientRefusal(deps)) return rawStatus(socket, 503);
      wss.handleUpgrade(req, socket, head, (ws) => {
        const transport = new WebSocketTransport(ws, { secure: opts.secure, stanzaSizeLimit });
        if (typeof admitClient(deps, transport) === 'string') ws.close(1013, 'try again later');
      });
    },
    close() {
      wss.close();
    },
  };
}
