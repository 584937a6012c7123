import { describe, expect, it } from 'vitest'
import { WriteLane } from '../src/file-database/write-lane.js'
import { until } from './helpers/memory-database.js'

function controlledLane() {
  const writes: { market: string; snapshot: unknown; resolve: () => void; reject: (error: unknown) => void }[] = []
  const lane = new WriteLane(
    (market, snapshot) => new Promise((resolve, reject) => writes.push({ market, snapshot, resolve, reject })),
  )
  return { lane, writes }
}

describe('WriteLane', () => {
  it('writes only the newest of the snapshots queued behind a running write, resolving every waiter', async () => {
    const { lane, writes } = controlledLane()
    const settled: string[] = []
    const track = (name: string, promise: Promise<void>) => promise.then(() => settled.push(name))
    track('v1', lane.enqueue('m', 'v1'))
    track('v2', lane.enqueue('m', 'v2'))
    track('v3', lane.enqueue('m', 'v3'))
    await until(() => writes.length === 1)
    writes[0]?.resolve()
    await until(() => writes.length === 2)
    expect(settled).toEqual(['v1'])
    expect(writes.map((write) => write.snapshot)).toEqual(['v1', 'v3'])
    writes[1]?.resolve()
    await until(() => settled.length === 3)
    expect(settled).toEqual(['v1', 'v2', 'v3'])
  })

  it('writes markets one at a time in arrival order', async () => {
    const { lane, writes } = controlledLane()
    const done = ['a', 'b', 'c'].map((market) => lane.enqueue(market, market))
    for (let i = 0; i < 3; i++) {
      await until(() => writes.length === i + 1)
      writes[i]?.resolve()
    }
    await Promise.all(done)
    expect(writes.map((write) => write.market)).toEqual(['a', 'b', 'c'])
  })

  it('rejects only the waiters of the write that failed', async () => {
    const { lane, writes } = controlledLane()
    const first = lane.enqueue('m', 1)
    const second = lane.enqueue('m', 2)
    await until(() => writes.length === 1)
    const failure = new Error('EIO')
    writes[0]?.reject(failure)
    await expect(first).rejects.toBe(failure)
    await until(() => writes.length === 2)
    writes[1]?.resolve()
    await expect(second).resolves.toBeUndefined()
  })
})
