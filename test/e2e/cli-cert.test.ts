// `clove cert generate HOST [--days N]` and the certificate part of `clove check`, run as the
// real command in a child process: validity and file modes of generated pairs, bad --days
// values, and check's report on good, missing, mismatched, expired, broken and not-yet-generated
// certificates. Nothing listens; every file lives in a temp directory removed afterwards.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { runClove } from '../helpers/child-server.js';

const DAY_MS = 86_400_000;
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A temp dir with a config (certificates in `<dir>/certs`) for `hosts`; returns the `--config` args. */
async function setup(hosts: string, extra = ''): Promise<{ dir: string; certs: string; cfg: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'clove-cert-'));
  dirs.push(dir);
  const certs = join(dir, 'certs');
  const path = join(dir, 'clove.cfg.lua');
  await writeFile(path, [
    `data_path = ${JSON.stringify(join(dir, 'data'))}`,
    `certificates = ${JSON.stringify(certs)}`,
    'storage = "file"',
    extra,
    hosts,
    '',
  ].join('\n'));
  return { dir, certs, cfg: ['--config', path] };
}

async function generate(cfg: string[], host: string, ...opts: string[]): Promise<void> {
  const r = await runClove([...cfg, 'cert', 'generate', host, ...opts]);
  expect(r.code, r.stderr).toBe(0);
}

/** Lines of stderr that are not empty. */
const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');
/** What `clove check` prints after its per-statement config report (which ends with the statement count). */
const afterReport = (stdout: string): string[] => {
  const out = lines(stdout);
  return out.slice(out.findIndex((l) => / statement\(s\): /.test(l)) + 1);
};

describe('clove cert generate', () => {
  it('--days 30 sets the validity; the key is 0640 and the certificate 0644', async () => {
    const { certs, cfg } = await setup('VirtualHost "a.example"');
    const before = Date.now();
    const r = await runClove([...cfg, 'cert', 'generate', 'a.example', '--days', '30']);
    expect(r.code, r.stderr).toBe(0);
    const cert = new X509Certificate(await readFile(join(certs, 'a.example.crt')));
    expect(r.stdout).toContain(`SHA-256 fingerprint ${cert.fingerprint256}`);
    const validTo = new Date(cert.validTo).getTime();
    expect(Math.abs(validTo - (before + 30 * DAY_MS))).toBeLessThan(5 * 60_000);
    expect((await stat(join(certs, 'a.example.key'))).mode & 0o777).toBe(0o640);
    expect((await stat(join(certs, 'a.example.crt'))).mode & 0o777).toBe(0o644);
  }, 30_000);

  it('--days=N works too, and the default is 3650 days', async () => {
    const { certs, cfg } = await setup('VirtualHost "b.example"\nVirtualHost "c.example"');
    await generate(cfg, 'b.example', '--days=7');
    await generate(cfg, 'c.example');
    const left = async (host: string): Promise<number> =>
      (new Date(new X509Certificate(await readFile(join(certs, `${host}.crt`))).validTo).getTime() - Date.now()) / DAY_MS;
    expect(Math.round(await left('b.example'))).toBe(7);
    expect(Math.round(await left('c.example'))).toBe(3650);
  }, 30_000);

  it('bad --days values exit 1 with one usage line', async () => {
    const { certs, cfg } = await setup('VirtualHost "a.example"');
    for (const bad of [['--days', 'abc'], ['--days', '0'], ['--days', '1.5'], ['--days=36501'], ['--days']]) {
      const r = await runClove([...cfg, 'cert', 'generate', 'a.example', ...bad]);
      expect(r.code, bad.join(' ')).toBe(1);
      expect(lines(r.stderr), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/^clove: usage: clove cert generate HOST \[--days N\]/);
    }
    await expect(stat(join(certs, 'a.example.key'))).rejects.toThrow(/ENOENT/);
  }, 30_000);
});

describe('clove check: certificates', () => {
  it('a good pair: exit 0 with the OK line and the path, expiry and fingerprint', async () => {
    const { certs, cfg } = await setup('VirtualHost "good.example"');
    await generate(cfg, 'good.example');
    const r = await runClove([...cfg, 'check']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const cert = new X509Certificate(await readFile(join(certs, 'good.example.crt')));
    const out = afterReport(r.stdout);
    expect(out[0]).toMatch(/: OK \(1 host\(s\): good\.example\)$/);
    expect(out[1]).toBe(`good.example: ${join(certs, 'good.example.crt')} valid until ${new Date(cert.validTo).toISOString()}, SHA-256 ${cert.fingerprint256}`);

    // A world-readable key and a certificate for another name are warnings, not errors.
    await chmod(join(certs, 'good.example.key'), 0o644);
    const other = await setup('VirtualHost "other.example"', `ssl = { key = ${JSON.stringify(join(certs, 'good.example.key'))}; certificate = ${JSON.stringify(join(certs, 'good.example.crt'))} }`);
    const w = await runClove([...other.cfg, 'check']);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stderr).toContain(`warning: other.example: ${join(certs, 'good.example.key')}: private key is readable by every user`);
    expect(w.stderr).toMatch(/^warning: other\.example: .*good\.example\.crt: certificate names .* do not cover other\.example/m);
  }, 30_000);

  it('no files and no ssl: exit 0, warning that they will be generated at first start', async () => {
    const { certs, cfg } = await setup('VirtualHost "new.example"');
    const r = await runClove([...cfg, 'check']);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^warning: new\.example: .*new\.example\.crt: .*will be generated at first start/);
    expect(r.stdout).toMatch(/: OK \(1 host\(s\): new\.example\)\nnew\.example: darknet only \(darknet_only = true, the default\)/);
    await expect(stat(certs)).rejects.toThrow(/ENOENT/); // check writes nothing
  }, 30_000);

  it('a configured certificate that is missing: exit 2 naming the file', async () => {
    const { dir, cfg: gen } = await setup('VirtualHost "m.example"');
    await generate(gen, 'm.example');
    const missing = join(dir, 'nowhere', 'm.example.crt');
    const { cfg } = await setup('VirtualHost "m.example"', `ssl = { key = ${JSON.stringify(join(dir, 'certs', 'm.example.key'))}; certificate = ${JSON.stringify(missing)} }`);
    const r = await runClove([...cfg, 'check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: m.example: ${missing}: file not found`);
    expect(r.stderr).toContain("clove cert generate m.example");
    expect(afterReport(r.stdout)).toEqual([]);
  }, 30_000);

  it('one of the two default files missing is an error, not a generation', async () => {
    const { certs, cfg } = await setup('VirtualHost "half.example"');
    await generate(cfg, 'half.example');
    await rm(join(certs, 'half.example.key'));
    const r = await runClove([...cfg, 'check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: half.example: ${join(certs, 'half.example.key')}: file not found`);
  }, 30_000);

  it('a key that does not belong to the certificate: exit 2', async () => {
    const { certs, cfg } = await setup('VirtualHost "x.example"\nVirtualHost "y.example"');
    await generate(cfg, 'x.example');
    await generate(cfg, 'y.example');
    const xKey = await readFile(join(certs, 'x.example.key'));
    await writeFile(join(certs, 'x.example.key'), await readFile(join(certs, 'y.example.key')));
    await writeFile(join(certs, 'y.example.key'), xKey);
    const r = await runClove([...cfg, 'check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: x.example: ${join(certs, 'x.example.key')}: key does not match the certificate ${join(certs, 'x.example.crt')}`);
    expect(r.stderr).toContain(`error: y.example: ${join(certs, 'y.example.key')}: key does not match`);
  }, 30_000);

  it('an expired certificate: exit 2 "expired"', async () => {
    const { certs, cfg } = await setup('VirtualHost "old.example"');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const c = forge.pki.createCertificate();
    c.publicKey = forge.pki.publicKeyFromPem(publicKey);
    c.serialNumber = '01';
    c.validity.notBefore = new Date(Date.now() - 400 * DAY_MS);
    c.validity.notAfter = new Date(Date.now() - 35 * DAY_MS);
    const attrs = [{ name: 'commonName', value: 'old.example' }];
    c.setSubject(attrs);
    c.setIssuer(attrs);
    c.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
    await mkdir(certs, { recursive: true });
    await writeFile(join(certs, 'old.example.key'), privateKey, { mode: 0o640 });
    await writeFile(join(certs, 'old.example.crt'), forge.pki.certificateToPem(c));
    const r = await runClove([...cfg, 'check']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: old\.example: .*old\.example\.crt: certificate expired on \d{4}-/);
  }, 30_000);

  it('a certificate expiring within 30 days is a warning; a broken PEM is an error', async () => {
    const { certs, cfg } = await setup('VirtualHost "soon.example"');
    await generate(cfg, 'soon.example', '--days', '10');
    let r = await runClove([...cfg, 'check']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: soon\.example: .*soon\.example\.crt: certificate expires on .* \(in 9 day\(s\)\)$/m);
    await writeFile(join(certs, 'soon.example.crt'), '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    r = await runClove([...cfg, 'check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: soon\.example: .*soon\.example\.crt: not a valid PEM certificate/m);
  }, 30_000);
});
