// XEP-0156 over HTTP (prosody-modules' mod_http_altconnect): /.well-known/host-meta (XRD) and
// /.well-known/host-meta.json list the host's alternative connection methods (the
// `http-alt-connection` items WebSocket and BOSH offer) with their public URLs, so a web client
// given only the domain finds the operator's I2P address. Nothing else is listed; with no
// methods the documents are empty lists.
// References: XEP-0156 §3 (HTTP lookup), RFC 6415 (host-meta), RFC 7395 §4 (ws:// URLs).
import { defineModule } from '../core/modules.js';
import { HttpError, type HttpAltConnection } from '../core/http.js';
import { x } from '../xml/element.js';
import { publicUrl } from '../net/http/url.js';

const NS_XRD = 'http://docs.oasis-open.org/ns/xri/xrd-1.0';

/** The public URL of a method: ws:// or wss:// for WebSocket, the HTTP URL otherwise. */
function href(url: string, method: HttpAltConnection): string {
  return method.rel.endsWith(':websocket') ? url.replace(/^http/, 'ws') : url;
}

export default defineModule({
  name: 'http_altconnect',
  setup(ctx) {
    const links = (): Array<{ rel: string; href: string }> =>
      ctx.items('http-alt-connection').map((m) => ({ rel: m.rel, href: href(publicUrl(ctx.host.config, ctx.host.name, m.path), m) }));
    const common = {
      // Web clients on another origin (a converse.js eepsite) read it, as XEP-0156 §3 asks.
      'Access-Control-Allow-Origin': '*',
      'Cache-Control': 'max-age=3600',
    };
    ctx.provide('http-route', {
      path: '/.well-known/host-meta',
      methods: ['GET', 'HEAD'],
      handle(req, res) {
        if (req.rest !== '') throw new HttpError(404, 'not found');
        const body = Buffer.from(`<?xml version='1.0' encoding='utf-8'?>\n${x('XRD', { xmlns: NS_XRD }, ...links().map((l) => x('Link', l))).toString()}\n`, 'utf8');
        res.writeHead(200, { ...common, 'Content-Type': 'application/xrd+xml; charset=utf-8', 'Content-Length': String(body.length) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    });
    ctx.provide('http-route', {
      path: '/.well-known/host-meta.json',
      methods: ['GET', 'HEAD'],
      handle(req, res) {
        if (req.rest !== '') throw new HttpError(404, 'not found');
        const body = Buffer.from(JSON.stringify({ links: links() }), 'utf8');
        res.writeHead(200, { ...common, 'Content-Type': 'application/json', 'Content-Length': String(body.length) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    });
  },
});
