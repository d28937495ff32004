// The shipped config files load, and the schema, docs and commented config stay in step.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { SCHEMA } from '../../../src/config/schema.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const tutorial = join(root, 'config/prosody.cfg.lua');
const sample = join(root, 'config/clove.cfg.lua');

describe("the tutorial's prosody.cfg.lua", () => {
  it('loads with warnings only for options Clove does not act on', async () => {
    const c = await loadConfig(tutorial);
    expect(c.virtualHosts()).toEqual(['xxx.b32.i2p']);
    expect(c.get('interfaces')).toEqual(['127.0.0.1']);
    expect(c.get('admins', 'xxx.b32.i2p')).toEqual(['admin@xxx.b32.i2p']);
    expect(c.get('modules_enabled')).toContain('darknet');
    expect(c.get('modules_enabled')).toContain('posix');
    expect(c.get('modules_disabled')).toEqual([]);
    expect(c.get('allow_registration')).toBe(false);
    expect(c.get('darknet_only')).toBe(true);
    expect(c.get('c2s_require_encryption')).toBe(true);
    expect(c.get('s2s_secure_auth')).toBe(false);
    expect(c.get('authentication')).toBe('internal_hashed');
    expect(c.get('log')).toEqual([{ level: 'error', to: '/var/log/prosody/prosody.err' }, { level: 'info', to: 'syslog' }]);
    expect(c.get('certificates')).toBe(join(root, 'config/certs'));
    expect(c.get('ssl', 'xxx.b32.i2p')).toEqual({ key: '/etc/prosody/certs/xxx.b32.i2p.key', certificate: '/etc/prosody/certs/xxx.b32.i2p.crt' });
    expect(c.lineOf('ssl', 'xxx.b32.i2p')).toBe(23);
    expect(c.warnings).toEqual([
      `${tutorial}:11: option 'authentication' = "internal_plain" is treated as "internal_hashed" by Clove`,
    ]);
  });
});

describe('config/clove.cfg.lua', () => {
  it('loads as-is for localhost without warnings', async () => {
    const c = await loadConfig(sample);
    expect(c.warnings).toEqual([]);
    expect(c.virtualHosts()).toEqual(['localhost']);
    expect(c.get('data_path')).toBe(join(root, 'data'));
    expect(c.get('certificates')).toBe(join(root, 'certs'));
    expect(c.get('enabled', 'localhost')).toBe(true);
  });

  it('mentions every option in the schema', async () => {
    const text = await readFile(sample, 'utf8');
    const missing = SCHEMA.filter((s) => !new RegExp(`^(-- )?\\s*${s.name} = `, 'm').test(text)).map((s) => s.name);
    expect(missing).toEqual([]);
  });
});

describe('docs/configuration.md', () => {
  it('documents every option with its status', async () => {
    const text = await readFile(join(root, 'docs/configuration.md'), 'utf8');
    const missing = SCHEMA.filter((s) => !text.includes(`| \`${s.name}\` |`)).map((s) => s.name);
    expect(missing).toEqual([]);
    for (const s of SCHEMA) {
      const row = text.split('\n').find((l) => l.startsWith(`| \`${s.name}\` |`)) as string;
      expect(row, s.name).toContain(s.status === 'accepted' ? 'accepted' : 'yes');
    }
  });
});
