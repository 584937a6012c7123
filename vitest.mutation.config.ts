import { defineConfig, mergeConfig } from 'vitest/config'
import base from './vitest.config.js'

// The suite Stryker runs per mutant. Suites whose subject runs in child processes (CLI, REPL, package
// builds, crash soak) are left out: Stryker activates a mutant only inside the test process, so those
// children would run the original code and only make every mutant slower.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      exclude: [
        'test/cli*.test.ts',
        'test/repl.test.ts',
        'test/package.test.ts',
        'test/process.test.ts',
        'test/soak.test.ts',
        'test/dir-lock-pid1.test.ts',
        'test/dir-lock-processes.test.ts',
        'test/postgres-processes.test.ts',
        'test/studio*.test.ts',
      ],
      env: { FC_NUM_RUNS: '15' },
      // A mutant that leaves a promise pending should fail its test fast, not run into Stryker's timeout.
      testTimeout: 10_000,
      hookTimeout: 10_000,
    },
  }),
)
