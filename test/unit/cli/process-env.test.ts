// The process-start settings (src/cli/process-env.ts): added where the environment lacks them,
// never over the operator's own value, and present in every launcher that is a file (npm start,
// the systemd unit, the Docker image). `start -D` passing them on: test/e2e/cli.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { SERVER_PROCESS_ENV, withServerProcessEnv } from '../../../src/cli/process-env.js';

const REPO = join(import.meta.dirname, '..', '..', '..');
const read = (p: string): string => readFileSync(join(REPO, p), 'utf8');

describe('withServerProcessEnv', () => {
  it('adds MALLOC_ARENA_MAX=2 and keeps everything else', () => {
    expect(SERVER_PROCESS_ENV).toEqual({ MALLOC_ARENA_MAX: '2' });
    expect(withServerProcessEnv({ PATH: '/bin', NODE_ENV: 'production' })).toEqual({ PATH: '/bin', NODE_ENV: 'production', MALLOC_ARENA_MAX: '2' });
  });

  it("keeps the operator's own value; an empty one counts as unset", () => {
    expect(withServerProcessEnv({ MALLOC_ARENA_MAX: '4' }).MALLOC_ARENA_MAX).toBe('4');
    expect(withServerProcessEnv({ MALLOC_ARENA_MAX: '' }).MALLOC_ARENA_MAX).toBe('2');
  });

  it('does not change the environment it was given', () => {
    const env = { PATH: '/bin' };
    withServerProcessEnv(env);
    expect(env).toEqual({ PATH: '/bin' });
  });
});

describe('the launchers that are files set the same', () => {
  const settings = Object.entries(SERVER_PROCESS_ENV);

  it('npm start (defaulting, so an exported value wins)', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!;
    for (const [name, value] of settings) expect(start).toMatch(new RegExp(`(^|\\s)${name}=\\$\\{${name}:-${value}\\} node bin/clove\\.js start`));
  });

  it('config/clove.service', () => {
    const lines = read('config/clove.service').split('\n');
    for (const [name, value] of settings) expect(lines).toContain(`Environment=${name}=${value}`);
  });

  it("docker/Dockerfile's runtime stage", () => {
    const runtime = read('docker/Dockerfile').split(/^FROM /m).at(-1)!;
    const env = runtime.split('\n').filter((l) => l.startsWith('ENV ')).flatMap((l) => l.slice(4).trim().split(/\s+/));
    for (const [name, value] of settings) expect(env).toContain(`${name}=${value}`);
  });
});
