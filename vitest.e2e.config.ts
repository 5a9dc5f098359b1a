import { defineConfig } from 'vitest/config';

/** `npm run test:e2e`: the end-to-end suite against SPLITSERVE_ENDPOINT (LocalStack or AWS). */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
