// Crash soak: npm run soak -- --rounds N [--seed S] [--dir DIR] [--quiet]
// Each round a child writes overlapping changes on several markets and is killed with SIGKILL at a
// random moment; the parent then checks every acknowledged change survived (scripts/soak-runner.ts).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { runSoak } from './soak-runner.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    seed: { type: 'string' },
    dir: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
})
const rounds = Number(values.rounds)
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(values.seed)
const dir = values.dir ?? (await mkdtemp(join(tmpdir(), 'market-system-soak-')))
console.log(`soak: ${rounds} rounds, seed ${seed}, dir ${dir} (rerun with --seed ${seed})`)

const started = Date.now()
try {
  const result = await runSoak({ dir, rounds, seed, ...(values.quiet ? {} : { log: (line) => console.log(line) }) })
  console.log(
    `soak passed: ${result.rounds} rounds, ${result.verifiedChanges} acknowledged changes verified, ` +
      `${result.killedMidBurst} kills mid-burst, ${result.killedBeforeReady} before start, ${Math.round((Date.now() - started) / 1000)} s`,
  )
  if (values.dir === undefined) await rm(dir, { recursive: true, force: true })
} catch (error) {
  console.error(`soak FAILED (seed ${seed}, data kept in ${dir}):`, error)
  process.exitCode = 1
}
