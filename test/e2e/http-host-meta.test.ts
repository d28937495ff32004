// XEP-0156 over HTTP (module http_altconnect): /.well-known/host-meta and host-meta.json list the
// alternative connection methods modules offer (item http-alt-connection) with the public URLs
// built from http_external_url (ws:// for WebSocket), per host; a host with none lists none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineModule } from '../../src/core/modules.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { httpCall } from '../helpers/http.js';

// Stands in for the WebSocket and BOSH endpoints, which offer these items.
const altTest = defineModule({
  name: 'alt_test',
  setup(ctx) {
    ctx.provide('http-alt-connection', { rel: 'urn:xmpp:alt-connections:websocket', path: '/xmpp-websocket' });
    ctx.provide('http-alt-connection', { rel: 'urn:xmpp:alt-connections:xbosh', path: '/http-bind' });
  },
});

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({
    http: true,
    extraModules: [altTest],
    hosts: [
      'VirtualHost "localhost"',
      '  http_external_url = "http://metametametameta.b32.i2p/"',
      '  modules_enabled = { "http_altconnect", "alt_test" }',
      'VirtualHost "plain.localhost"',
      '  http_external_url = "https://plainplainplain.b32.i2p/chat/"',
      '  modules_enabled = { "http_host_meta" }',
    ].join('\n'),
  });
}, 30_000);
afterAll(async () => { await t?.stop(); });

describe('host-meta (XEP-0156)', () => {
  it('lists WebSocket and BOSH with their public I2P URLs, as XRD', async () => {
    const r = await httpCall(t.httpPort, 'GET', '/.well-known/host-meta', { host: 'metametametameta.b32.i2p' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/xrd+xml; charset=utf-8');
    expect(r.headers['access-control-allow-origin']).toBe('*');
    const text = r.body.toString();
    expect(text).toContain('<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">');
    expect(text).toContain('<Link rel="urn:xmpp:alt-connections:websocket" href="ws://metametametameta.b32.i2p/xmpp-websocket"/>');
    expect(text).toContain('<Link rel="urn:xmpp:alt-connections:xbosh" href="http://metametametameta.b32.i2p/http-bind"/>');
    expect(text).not.toContain('127.0.0.1');
  });

  it('lists the same as JSON', async () => {
    const r = await httpCall(t.httpPort, 'GET', '/.well-known/host-meta.json', { host: 'localhost' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body.toString())).toEqual({
      links: [
        { rel: 'urn:xmpp:alt-connections:websocket', href: 'ws://metametametameta.b32.i2p/xmpp-websocket' },
        { rel: 'urn:xmpp:alt-connections:xbosh', href: 'http://metametametameta.b32.i2p/http-bind' },
      ],
    });
  });

  it('lists nothing for a host without methods, and nothing below the documents', async () => {
    const r = await httpCall(t.httpPort, 'GET', '/.well-known/host-meta.json', { host: 'plainplainplain.b32.i2p' });
    expect(JSON.parse(r.body.toString())).toEqual({ links: [] });
    expect((await httpCall(t.httpPort, 'GET', '/.well-known/host-meta/x', { host: 'localhost' })).status).toBe(404);
    expect((await httpCall(t.httpPort, 'GET', '/.well-known/other', { host: 'localhost' })).status).toBe(404);
  });
});
