// Public URLs (http_external_url) and the request-target check of the HTTP service.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../src/config/config.js';
import { ConfigError } from '../../../../src/config/errors.js';
import { baseUrl, checkExternalUrls, externalUrlProblem, publicUrl } from '../../../../src/net/http/url.js';
import { parseTarget, restOf, underPrefix } from '../../../../src/net/http/target.js';

const F = '/etc/clove/clove.cfg.lua';

describe('public URLs', () => {
  const cfg = parseConfig([
    'http_external_url = "http://globalxx.b32.i2p/xmpp"',
    'VirtualHost "a.example"',
    'VirtualHost "b.example"',
    '  http_external_url = "https://bbbb.b32.i2p/"',
  ].join('\n'), F);

  it('start with http_external_url (host, then global), keeping its path', () => {
    expect(baseUrl(cfg, 'a.example')).toBe('http://globalxx.b32.i2p/xmpp/');
    expect(publicUrl(cfg, 'a.example', '/file_share/x/y.png')).toBe('http://globalxx.b32.i2p/xmpp/file_share/x/y.png');
    expect(publicUrl(cfg, 'b.example', 'file_share/z')).toBe('https://bbbb.b32.i2p/file_share/z');
  });

  it('default to http://<host>/', () => {
    const plain = parseConfig('VirtualHost "xxx.b32.i2p"', F);
    expect(publicUrl(plain, 'xxx.b32.i2p', '/.well-known/host-meta')).toBe('http://xxx.b32.i2p/.well-known/host-meta');
  });

  it('refuse loopback, IP literals, other schemes and credentials, with file:line', () => {
    for (const bad of ['http://127.0.0.1:5280/', 'http://localhost/', 'http://[::1]/', 'http://10.0.0.1/', 'ftp://x.b32.i2p/', 'http://u:p@x.b32.i2p/', 'http://x.b32.i2p/?a=1', 'x.b32.i2p']) {
      expect(externalUrlProblem(bad), bad).toBeDefined();
    }
    expect(externalUrlProblem('http://xxx.b32.i2p/')).toBeUndefined();
    const cfgBad = parseConfig('VirtualHost "a.example"\n  http_external_url = "http://127.0.0.1:5280/"', F);
    expect(() => checkExternalUrls(cfgBad)).toThrow(ConfigError);
    expect(() => checkExternalUrls(cfgBad)).toThrow(`${F}:2: http_external_url must name the service's public (I2P) address, not 127.0.0.1`);
    expect(() => checkExternalUrls(cfg)).not.toThrow();
  });
});

describe('request targets', () => {
  it('decode the path and query', () => {
    expect(parseTarget('/file_share/a%20b/c.png?x=1')).toEqual({ path: '/file_share/a b/c.png', query: new URLSearchParams('x=1') });
    expect(parseTarget('http://other.example/a/b?q')?.path).toBe('/a/b');
    expect(parseTarget('/')?.path).toBe('/');
    expect(parseTarget('/a/')?.path).toBe('/a/');
  });

  it('refuse dot segments, encoded separators, NUL, backslashes and other forms', () => {
    for (const bad of ['/a/../b', '/a/%2e%2e/b', '/a/%2E%2E', '/..', '/a/.', '/a/%2f', '/a/%5C', '/a\\b', '/a/%00', '/a//b', '*', 'example.com:80', '/%', '/%e0%a4%a']) {
      expect(parseTarget(bad), bad).toBeUndefined();
    }
  });

  it('match prefixes on a / boundary', () => {
    expect(underPrefix('/file_share', '/file_share')).toBe(true);
    expect(underPrefix('/file_share/x', '/file_share')).toBe(true);
    expect(underPrefix('/file_sharex', '/file_share')).toBe(false);
    expect(restOf('/file_share/x/y', '/file_share')).toBe('x/y');
    expect(restOf('/file_share', '/file_share')).toBe('');
  });
});
