// `clove check` names the components of a config, and warns (with file and line) about one whose
// module Clove does not have: the server would start it answering service-unavailable.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runClove } from '../helpers/child-server.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('clove check with components', () => {
  it('lists each component with its module and warns about a module Clove lacks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clove-check-comp-'));
    dirs.push(dir);
    const path = join(dir, 'comp.cfg.lua');
    await writeFile(path, [
      `certificates = ${JSON.stringify(join(dir, 'certs'))}`,
      'VirtualHost "localhost"',
      'Component "conference.localhost" "muc"',
      'Component "proxy.localhost" "proxy65"',
      'Component "gw.localhost"',
      '  component_secret = "a-long-enough-secret"',
      '',
    ].join('\n'));
    const r = await runClove(['--config', path, 'check']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${path}: OK (1 host(s): localhost; 3 component(s): conference.localhost (muc), proxy.localhost (proxy65), gw.localhost (external))\n`);
    expect(r.stderr).toContain(`warning: ${path}:4: Component "proxy.localhost" "proxy65": module 'proxy65' is not available in Clove yet`);
    expect(r.stderr).not.toMatch(/conference\.localhost" "muc": module/);
    expect(r.stderr).not.toMatch(/gw\.localhost" "component"/);
  }, 30_000);
});
