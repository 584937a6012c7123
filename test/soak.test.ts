import { describe, expect, it } from 'vitest'
import { runSoak } from '../scripts/soak-runner.js'
import { useChildCleanup } from './helpers/child.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const children = useChildCleanup()

describe('crash soak (short; `npm run soak -- --rounds 300` for the long one)', () => {
  it('keeps every acknowledged change, whole files and forward revisions across 20 SIGKILLs and stale-lock takeovers', async () => {
    const seed = Math.floor(Math.random() * 2 ** 32)
    // Printed so a failure can be replayed with `npm run soak -- --rounds 20 --seed <seed>`.
    console.log(`soak seed ${seed}`)
    const result = await runSoak({ dir: await tempDir(), rounds: 20, seed, onChild: (child) => children.push(child) })
    expect(result.rounds).toBe(20)
    expect(result.verifiedChanges).toBeGreaterThan(0)
    expect(result.killedMidBurst).toBeGreaterThan(0)
  }, 120_000)
})
