import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One throwaway PostgreSQL server for the run (or MARKET_SYSTEM_PG_URL), for the test/postgres-* suites.
    globalSetup: ['test/helpers/postgres-global-setup.ts'],
    // Several suites spawn real child processes and fsync real files; the machines are shared and slow.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      // The CLI runs in child processes (its tests spawn it as a user would), which v8 coverage of the
      // test process cannot see; counting it would only measure how it is tested, not how well.
      // The studio's page script runs in chromium, out of v8's sight in the same way; the browser suites test it.
      exclude: ['src/cli/**', 'src/studio/client/**'],
      reporter: ['text', 'json-summary'],
      thresholds: { lines: 95, branches: 90 },
    },
  },
})
