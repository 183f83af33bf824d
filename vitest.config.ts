import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A development CA, certificates and a cluster secret for the run (removed at its end).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: multi-process tests fight for CPU when run side by side.
    fileParallelism: true,
    maxWorkers: 2,
    pool: 'forks',
  },
});
