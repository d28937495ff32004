// Web clients (converse.js and other browser clients): the modules `websocket` (RFC 7395) and
// `bosh` (XEP-0206), Prosody's names. Loading one on a host turns its endpoint on for requests
// the HTTP service picks that host for, and lists it in host-meta (XEP-0156) through the
// `http-alt-connection` item. The endpoints themselves run the c2s stream over the HTTP service
// (src/stream/web/, wired in src/main.ts): modules never touch sockets.
import { defineModule, type ModuleDefinition } from '../core/modules.js';

/** XEP-0156 link relations. */
export const WEBSOCKET_REL = 'urn:xmpp:alt-connections:websocket';
export const BOSH_REL = 'urn:xmpp:alt-connections:xbosh';
/** The endpoints' paths, as Prosody's. */
export const WEBSOCKET_PATH = '/xmpp-websocket';
export const BOSH_PATH = '/http-bind';

function webEndpoint(name: string, rel: string, path: string): ModuleDefinition {
  return defineModule({
    name,
    setup(ctx) {
      ctx.provide('http-alt-connection', { rel, path });
    },
  });
}

export const websocket = webEndpoint('websocket', WEBSOCKET_REL, WEBSOCKET_PATH);
export const bosh = webEndpoint('bosh', BOSH_REL, BOSH_PATH);

/** Whether `host` (its items) serves the endpoint of `rel`. */
export function servesWeb(host: { items(kind: 'http-alt-connection'): readonly { rel: string }[] }, rel: string): boolean {
  return host.items('http-alt-connection').some((a) => a.rel === rel);
}
