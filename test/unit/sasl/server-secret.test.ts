import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { derivedKey, loadServerSecret, SECRET_FILE } from '../../../src/sasl/server-secret.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'clove-secret-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('server secret', () => {
  it('is created once with mode 0600 and read back the same', async () => {
    const data = join(await tempDir(), 'data');
    const a = await loadServerSecret(data);
    expect(a).toHaveLength(32);
    expect((await stat(join(data, SECRET_FILE))).mode & 0o777).toBe(0o600);
    expect((await loadServerSecret(data)).equals(a)).toBe(true);
  });

  it('agrees when two starts race to create it', async () => {
    const data = await tempDir();
    const all = await Promise.all(Array.from({ length: 8 }, () => loadServerSecret(data)));
    for (const s of all) expect(s.equals(all[0]!)).toBe(true);
  });

  it('refuses a damaged file instead of replacing it', async () => {
    const data = await tempDir();
    await writeFile(join(data, SECRET_FILE), 'not hex\n');
    await expect(loadServerSecret(data)).rejects.toThrow(/not a valid server secret/);
  });

  it('derives different keys per purpose', async () => {
    const s = await loadServerSecret(await tempDir());
    expect(derivedKey(s, 'a').equals(derivedKey(s, 'b'))).toBe(false);
    expect(derivedKey(s, 'a').equals(derivedKey(Buffer.from(s), 'a'))).toBe(true);
  });
});
