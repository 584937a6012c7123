// Mutation testing: `npm run mutation` (not in CI; about an hour on two cores).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  // The core: actor, mailbox, registry, operations, validation, snapshots, the file backend and PostgreSQL.
  // Not src/file-database/write-files.ts: the write thread runs it from its source text, where Stryker's mutant
  // switches would reference globals the worker thread does not have, failing every write.
  mutate: [
    'src/market-actor.ts',
    'src/market-storage.ts',
    'src/output-gate.ts',
    'src/revision-check.ts',
    'src/mailbox.ts',
    'src/market-cache.ts',
    'src/market-stock.ts',
    'src/operations.ts',
    'src/product.ts',
    'src/snapshot.ts',
    'src/events.ts',
    'src/describe-value.ts',
    'src/database-call.ts',
    'src/file-database/file-database.ts',
    'src/file-database/write-lane.ts',
    'src/file-database/lane-threads.ts',
    'src/file-database/file-names.ts',
    'src/file-database/dir-lock.ts',
    'src/file-database/lock-file.ts',
    'src/postgres-database/*.ts',
  ],
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants, the zod schemas) rerun the whole suite each; skipping them
  // takes the run from hours to under an hour on two cores. Their behaviour is covered by product tests.
  ignoreStatic: true,
  concurrency: 2,
  // Reruns only mutants whose code or tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
}
