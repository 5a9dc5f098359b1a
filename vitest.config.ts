import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Both cores: the default (cores - 1) runs one file at a time on a 2-core machine, and most
    // files wait on loopback servers and child processes rather than compute.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
