import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Several suites spawn real child processes and fsync real files; the machines are shared and slow.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
