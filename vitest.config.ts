import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A throwaway PostgreSQL cluster for the SQL storage tests (test/helpers/postgres.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: e2e files start servers and external clients; keep the machine responsive.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
