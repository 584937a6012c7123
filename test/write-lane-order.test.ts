import { describe, expect, it } from 'vitest'
import { type LaneWrite, WriteLane } from '../src/file-database/write-lane.js'
import { until } from './helpers/memory-database.js'

describe('WriteLane batching', () => {
  it('lets the replies of a batch run before the next batch starts, so the stores they cause join it', async () => {
    const batches: LaneWrite[][] = []
    let release: (results: unknown[]) => void = () => {}
    const lane = new WriteLane((writes) => {
      batches.push(writes)
      // The first batch waits for the test; every later one succeeds at once.
      if (batches.length === 1) return new Promise((resolve) => (release = resolve))
      return Promise.resolve(writes.map(() => undefined))
    })
    // `a` runs alone and `b` waits behind it; once `a` is stored, its caller stores `c` at once.
    const a = lane.enqueue('a', 1).then(() => lane.enqueue('c', 1))
    const b = lane.enqueue('b', 1)
    await until(() => batches.length === 1)
    release([undefined])
    await Promise.all([a, b])
    expect(batches.map((writes) => writes.map((write) => write.market))).toEqual([['a'], ['b', 'c']])
  })
})
