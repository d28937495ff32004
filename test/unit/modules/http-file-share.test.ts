// The pure parts of http_file_share: slot tokens, names and types, download headers, the daily
// quota and the service's usage bounds.
import { describe, expect, it } from 'vitest';
import { SlotSigner, type Slot } from '../../../src/modules/http-file-share/slot-token.js';
import { downloadHeaders, filenameProblem, isId, newId, normaliseType, typeAllowed } from '../../../src/modules/http-file-share/names.js';
import { DailyUse } from '../../../src/modules/http-file-share/quota.js';
import { charge, Usage } from '../../../src/modules/http-file-share/usage.js';

const slot: Slot = { id: newId(), filename: 'a b.png', size: 10, type: 'image/png', owner: 'alice@example', deadline: 1e12 };

describe('slot tokens', () => {
  it('verify what they signed and nothing else', () => {
    const signer = new SlotSigner();
    const token = signer.sign(slot);
    expect(signer.verify(token)).toEqual(slot);
    expect(new SlotSigner().verify(token)).toBeUndefined(); // another key
    const [body, mac] = token.split('.') as [string, string];
    const altered = Buffer.from(JSON.stringify([slot.id, slot.filename, 99999, slot.type, slot.owner, slot.deadline])).toString('base64url');
    expect(signer.verify(`${altered}.${mac}`)).toBeUndefined();
    expect(signer.verify(`${body}.${mac.slice(1)}`)).toBeUndefined();
    for (const junk of ['', '.', 'abc', `${body}.`, `.${mac}`]) expect(signer.verify(junk)).toBeUndefined();
  });
});

describe('names and types', () => {
  it('makes ids of 128 random bits that isId accepts, and accepts nothing else', () => {
    const id = newId();
    expect(isId(id)).toBe(true);
    expect(newId()).not.toBe(id);
    for (const bad of ['', '..', `${id}.json`, `../${id}`, id.slice(1), `${id}x`]) expect(isId(bad)).toBe(false);
  });

  it('refuses file names with separators, controls, dot names or over 255 bytes', () => {
    expect(filenameProblem('holiday photo.png')).toBeUndefined();
    expect(filenameProblem('ünïcödé ✓.txt')).toBeUndefined();
    for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'a\0b', 'a\nb', 'x'.repeat(256), 'é'.repeat(128)]) expect(filenameProblem(bad), bad).toBeDefined();
  });

  it('normalises media types and matches allowed lists with wildcards', () => {
    expect(normaliseType('Image/PNG; charset=x')).toBe('image/png');
    expect(normaliseType(undefined)).toBe('application/octet-stream');
    expect(normaliseType('not a type')).toBeUndefined();
    expect(normaliseType('text/html\r\nX: y')).toBeUndefined();
    expect(typeAllowed('image/png', ['image/*'])).toBe(true);
    expect(typeAllowed('imagex/png', ['image/*'])).toBe(false);
    expect(typeAllowed('text/plain', ['image/*', 'text/plain'])).toBe(true);
    expect(typeAllowed('anything/x', undefined)).toBe(true);
  });

  it('labels downloads so a browser never runs them', () => {
    const png = downloadHeaders('image/png', 'a "b".png', 3);
    expect(png['Content-Disposition']).toBe(`inline; filename="a _b_.png"; filename*=UTF-8''a%20%22b%22.png`);
    expect(png['Content-Type']).toBe('image/png');
    for (const t of ['text/html', 'image/svg+xml', 'application/xhtml+xml', 'text/javascript', 'application/pdf', 'text/xml', 'text/css']) {
      const h = downloadHeaders(t, 'x', 1);
      expect(h['Content-Type'], t).toBe('application/octet-stream');
      expect(h['Content-Disposition'], t).toMatch(/^attachment; /);
    }
    const txt = downloadHeaders('text/plain', 'notes.txt', 1);
    expect(txt['Content-Type']).toBe('text/plain');
    expect(txt['Content-Disposition']).toMatch(/^attachment; /);
    expect(txt['X-Content-Type-Options']).toBe('nosniff');
    expect(txt['Content-Security-Policy']).toContain('sandbox');
  });
});

describe('quotas', () => {
  it('counts a sliding day in hourly steps', () => {
    const d = new DailyUse();
    const t0 = 1_000 * 3_600_000;
    d.add('a', 100, t0);
    d.add('a', 50, t0 + 3_600_000);
    expect(d.used('a', t0 + 3_600_000)).toBe(150);
    expect(d.used('a', t0 + 24 * 3_600_000)).toBe(50);
    expect(d.used('a', t0 + 25 * 3_600_000)).toBe(0);
  });

  it('tracks a bounded number of users', () => {
    const d = new DailyUse(2);
    const now = 5_000 * 3_600_000;
    expect(d.add('a', 1, now)).toBe(true);
    expect(d.add('b', 1, now)).toBe(true);
    expect(d.add('c', 1, now)).toBe(false);
    expect(d.add('c', 1, now + 25 * 3_600_000)).toBe(true); // a and b aged out
    expect(d.size).toBeLessThanOrEqual(2);
  });

  it('bounds uploads at once and bytes on disk, counting uploads in progress', () => {
    const u = new Usage(3 * charge(1), 2);
    expect(charge(1)).toBe(4096);
    expect(u.begin('x', charge(1))).toBeUndefined();
    expect(u.begin('x', charge(1))).toBe(409);
    expect(u.begin('y', charge(1))).toBeUndefined();
    expect(u.begin('z', charge(1))).toBe(503);
    u.end('x', charge(1), true);
    u.end('y', charge(1), false);
    expect(u.begin('z', 2 * charge(1) + 1)).toBe(507);
    expect(u.begin('z', 2 * charge(1))).toBeUndefined();
    u.end('z', 2 * charge(1), true);
    expect(u.fits(1)).toBe(false);
    u.removed(charge(1));
    expect(u.fits(charge(1))).toBe(true);
  });
});
