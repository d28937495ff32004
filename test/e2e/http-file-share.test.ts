// HTTP file upload (XEP-0363, Prosody's http_file_share) as `Component "share.localhost"
// "http_file_share"` on an in-process server, with slixmpp's own XEP-0363 client: a slot, a PUT
// and a GET by another user through URLs that start with the configured I2P base URL; over-size,
// wrong-token, wrong-type and over-quota requests refused; downloads labelled so a browser never
// runs them; expiry on a clock the test moves; path traversal in download URLs refused while the
// server keeps serving.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Slixmpp, SlixError, type SlixSession } from '../helpers/slixmpp.js';
import { TestClock } from '../helpers/mam.js';
import { httpCall, rawHttp } from '../helpers/http.js';
import { createHttpFileShare } from '../../src/modules/http-file-share/share.js';

const BASE = 'http://sharexyzsharexyzsharexyz.b32.i2p/';
const TUNNEL_HOST = new URL(BASE).host;
const SHARE = 'share.localhost';
const NS_UPLOAD = 'urn:xmpp:http:upload:0';
const LIMIT = 100_000;
const clock = new TestClock();
let ts: TestServer;
let py: Slixmpp;
const sessions = new Map<string, SlixSession>();

beforeAll(async () => {
  ts = await startTestServer({
    http: true,
    storage: 'file',
    hosts: `VirtualHost "localhost"\nVirtualHost "other.localhost"\nComponent "${SHARE}" "http_file_share"\n`,
    extraModules: [createHttpFileShare(clock)],
    extra: [
      `http_external_url = "${BASE}"`,
      `http_file_share_size_limit = ${LIMIT}`,
      `http_file_share_daily_quota = ${3 * LIMIT}`,
      'http_file_share_allowed_file_types = { "image/*", "text/plain", "text/html" }',
    ].join('\n'),
  });
  for (const u of ['alice', 'bob', 'carol']) await ts.addUser(u, `${u}-pw`);
  await ts.addUser('dave', 'dave-pw', 'other.localhost');
  py = await Slixmpp.start(ts);
  for (const [name, jid] of [['alice', 'alice@localhost'], ['bob', 'bob@localhost'], ['carol', 'carol@localhost'], ['dave', 'dave@other.localhost']]) {
    sessions.set(name as string, await py.connect(name as string, jid as string, `${(jid as string).split('@')[0]}-pw`));
  }
}, 60_000);

afterAll(async () => {
  await py?.stop();
  await ts?.stop();
});

interface Got { status: number; headers: Record<string, string>; body: string }
/** Upload with slixmpp; `data` as bytes, or a size the driver fills with zeros (past the driver's line limit). */
const upload = (name: string, filename: string, data: Buffer | number, contentType: string): Promise<{ url: string }> =>
  py.call<{ url: string }>('upload', { name, filename, ...(typeof data === 'number' ? { size: data } : { data: data.toString('base64') }), content_type: contentType, domain: 'localhost', http_port: ts.httpPort }, 30_000);
const httpGet = (name: string, url: string): Promise<Got> => py.call<Got>('http_get', { name, url, http_port: ts.httpPort });

/** A slot asked for by hand: the reply, and the PUT URL and token when it is a result. */
async function slot(name: string, filename: string, size: number, type = 'text/plain'): Promise<{ reply: import('../helpers/xmppjs.js').XmlElement; put: string; token: string }> {
  const reply = await py.iq(name, `<iq type='get' to='${SHARE}'><request xmlns='${NS_UPLOAD}' filename='${filename}' size='${size}' content-type='${type}'/></iq>`);
  const put = reply.getChild('slot', NS_UPLOAD)?.getChild('put');
  return { reply, put: put?.attrs.url ?? '', token: put?.getChildText('header')?.replace(/^Bearer /, '') ?? '' };
}

const pathOf = (url: string): string => url.slice(BASE.length - 1);
const put = (url: string, body: Buffer, headers: Record<string, string>) =>
  httpCall(ts.httpPort, 'PUT', pathOf(url), { host: TUNNEL_HOST, body, headers: { 'Content-Length': String(body.length), ...headers } });

describe('http_file_share with slixmpp', () => {
  it('gives a slot, takes the PUT, and another user GETs the file by a URL on the I2P base URL', async () => {
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(5000, 7)]);
    const { url } = await upload('alice', 'holiday photo.png', png, 'image/png');
    expect(url.startsWith(`${BASE}file_share/`)).toBe(true);
    expect(url.endsWith('/holiday%20photo.png')).toBe(true);
    // Alice shares it; Bob follows the link he was sent.
    await py.call('message', { name: 'alice', to: sessions.get('bob')!.jid, body: url });
    const msg = await py.waitFor('bob', (el) => el.name === 'message' && el.getChildText('body') === url, 'the link');
    const got = await httpGet('bob', msg.getChildText('body') as string);
    expect(got.status).toBe(200);
    expect(Buffer.from(got.body, 'base64').equals(png)).toBe(true);
    expect(got.headers['content-type']).toBe('image/png');
    expect(got.headers['content-disposition']).toBe(`inline; filename="holiday photo.png"; filename*=UTF-8''holiday%20photo.png`);
    expect(got.headers['x-content-type-options']).toBe('nosniff');
    expect(got.headers['content-security-policy']).toContain('sandbox');
    expect(got.headers.server).toBeUndefined();
  });

  it('serves a type a browser could run as an attachment of bytes', async () => {
    const { url } = await upload('alice', 'page.html', Buffer.from('<script>alert(1)</script>'), 'text/html');
    const got = await httpGet('bob', url);
    expect(got.status).toBe(200);
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(got.headers['content-disposition']).toMatch(/^attachment; /);
  });

  it('advertises the size limit and refuses a larger file: in disco, at the slot, and at the PUT', async () => {
    const info = await py.iq('alice', `<iq type='get' to='${SHARE}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(info.toString()).toContain(`<value>${LIMIT}</value>`);
    const err = await upload('alice', 'big.bin', LIMIT + 1, 'text/plain').catch((e: unknown) => e);
    expect((err as SlixError).info.kind).toBe('too-big'); // slixmpp read max-file-size
    const big = await slot('alice', 'big.txt', LIMIT + 1);
    expect(big.reply.attrs.type).toBe('error');
    expect(big.reply.getChild('error')?.getChild('not-acceptable')).toBeDefined();
    expect(big.reply.getChild('error')?.getChild('file-too-large', NS_UPLOAD)?.getChildText('max-file-size')).toBe(String(LIMIT));
    // A PUT longer than its slot: 413, nothing stored.
    const s = await slot('alice', 'small.txt', 10);
    const r = await put(s.put, Buffer.alloc(20, 1), { Authorization: `Bearer ${s.token}`, 'Content-Type': 'text/plain' });
    expect(r.status).toBe(413);
    expect((await httpCall(ts.httpPort, 'GET', pathOf(s.put), { host: TUNNEL_HOST })).status).toBe(404);
  });

  it('refuses PUTs without the slot token, with a forged one or another slot\'s, then takes the right one once', async () => {
    const a = await slot('alice', 'a.txt', 5);
    const b = await slot('alice', 'b.txt', 5);
    const body = Buffer.from('hello');
    const forged = `${a.token.slice(0, -4)}${a.token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    for (const auth of [undefined, `Bearer ${forged}`, `Bearer ${b.token}`, `Basic ${a.token}`, 'Bearer ']) {
      const r = await put(a.put, body, { 'Content-Type': 'text/plain', ...(auth === undefined ? {} : { Authorization: auth }) });
      expect(r.status, String(auth)).toBe(401);
    }
    const ok = await put(a.put, body, { Authorization: `Bearer ${a.token}`, 'Content-Type': 'text/plain' });
    expect(ok.status).toBe(201);
    const again = await put(a.put, Buffer.from('HELLO'), { Authorization: `Bearer ${a.token}`, 'Content-Type': 'text/plain' });
    expect(again.status).toBe(409);
    const got = await httpCall(ts.httpPort, 'GET', pathOf(a.put), { host: TUNNEL_HOST });
    expect(got.body.toString()).toBe('hello');
    expect(got.headers['content-disposition']).toMatch(/^attachment; /);
    // A slot is good for 10 minutes.
    const late = await slot('alice', 'late.txt', 5);
    await clock.advance(11 * 60_000);
    expect((await put(late.put, body, { Authorization: `Bearer ${late.token}`, 'Content-Type': 'text/plain' })).status).toBe(401);
  });

  it('refuses types not allowed, users of other servers, and uploads past the daily quota', async () => {
    expect((await slot('alice', 'x.exe', 10, 'application/x-msdownload')).reply.getChild('error')?.getChild('not-acceptable')).toBeDefined();
    expect((await slot('dave', 'x.txt', 10)).reply.getChild('error')?.getChild('forbidden')).toBeDefined();
    for (let i = 0; i < 3; i++) expect((await slot('carol', `q${i}.txt`, LIMIT)).reply.attrs.type).toBe('result');
    const over = await slot('carol', 'q3.txt', LIMIT);
    expect(over.reply.getChild('error')?.getChild('resource-constraint')).toBeDefined();
    // A day later the quota is free again.
    await clock.advance(86_400_000 + 3_600_000);
    expect((await slot('carol', 'q4.txt', LIMIT)).reply.attrs.type).toBe('result');
  });

  it('refuses path traversal in download URLs and keeps serving', async () => {
    const { url } = await upload('alice', 'keep.txt', Buffer.from('still here'), 'text/plain');
    const p = pathOf(url);
    const id = p.split('/')[2] as string;
    for (const bad of [
      '/file_share/../../../../etc/passwd',
      '/file_share/%2e%2e/%2e%2e/etc/passwd',
      '/file_share/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
      `/file_share/${id}/..%2f..%2fetc%2fpasswd`,
      `/file_share/${id}/../${id}.json`,
      `/file_share/${id}.json/keep.txt`,
      '/file_share//etc/passwd',
      '/file_share/tmp/x',
      `/file_share/${id}`,
      '/file_share/',
      `/file_share/..\\..\\etc\\passwd`,
      `http://${TUNNEL_HOST}/file_share/../../etc/passwd`,
      '/etc/passwd',
    ]) {
      const r = await rawHttp(ts.httpPort, `GET ${bad} HTTP/1.1\r\nHost: ${TUNNEL_HOST}\r\nConnection: close\r\n\r\n`);
      expect(r.text.split('\r\n')[0], bad).toMatch(/^HTTP\/1\.1 (400|404) /);
      expect(r.text, bad).not.toContain('root:');
      expect(r.text, bad).not.toContain('"owner"');
    }
    const good = await httpCall(ts.httpPort, 'GET', p, { host: TUNNEL_HOST });
    expect(good.body.toString()).toBe('still here');
  });

  it('removes files once http_file_share_expires_after (one week) has passed', async () => {
    const dir = join(ts.dir, 'data', 'http_file_share', 'share%2elocalhost');
    const { url } = await upload('bob', 'old.txt', Buffer.from('old news'), 'text/plain');
    expect((await httpGet('alice', url)).status).toBe(200);
    const id = pathOf(url).split('/')[2] as string;
    expect(await readdir(dir)).toContain(id);
    await clock.advance(6 * 86_400_000);
    expect((await httpGet('alice', url)).status).toBe(200);
    await clock.advance(86_400_000 + 3_600_000);
    expect((await httpGet('alice', url)).status).toBe(404);
    const left = await readdir(dir);
    expect(left).not.toContain(id);
    expect(left).not.toContain(`${id}.json`);
  });
});
