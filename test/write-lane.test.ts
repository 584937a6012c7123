import { describe, expect, it } from 'vitest'
import { type LaneWrite, WriteLane } from '../src/file-database/write-lane.js'
import { until } from './helpers/memory-database.js'

/** A lane whose batches wait until the test settles them. */
function controlledLane() {
  const batches: { writes: LaneWrite[]; settle: (results: unknown[]) => void; fail: (error: unknown) => void }[] = []
  const lane = new WriteLane((writes) => new Promise((settle, fail) => batches.push({ writes, settle, fail })))
  return { lane, batches }
}

describe('WriteLane', () => {
  it('writes only the newest of the snapshots queued behind a running batch, resolving every waiter', async () => {
    const { lane, batches } = controlledLane()
    const settled: string[] = []
    const track = (name: string, promise: Promise<void>) => promise.then(() => settled.push(name))
    track('v1', lane.enqueue('m', 'v1'))
    track('v2', lane.enqueue('m', 'v2'))
    track('v3', lane.enqueue('m', 'v3'))
    await until(() => batches.length === 1)
    batches[0]?.settle([undefined])
    await until(() => batches.length === 2)
    expect(settled).toEqual(['v1'])
    expect(batches.map(({ writes }) => writes.map((write) => write.snapshot))).toEqual([['v1'], ['v3']])
    batches[1]?.settle([undefined])
    await until(() => settled.length === 3)
    expect(settled).toEqual(['v1', 'v2', 'v3'])
  })

  it('starts no batch while one runs, and puts every market queued meanwhile into the next, in arrival order', async () => {
    const { lane, batches } = controlledLane()
    const done = ['a', 'b', 'c'].map((market) => lane.enqueue(market, market))
    await until(() => batches.length === 1)
    const more = ['d', 'a'].map((market) => lane.enqueue(market, `${market}2`))
    await new Promise((resolve) => setImmediate(resolve))
    expect(batches).toHaveLength(1)
    batches[0]?.settle([undefined])
    await until(() => batches.length === 2)
    batches[1]?.settle([undefined, undefined, undefined, undefined])
    await Promise.all([...done, ...more])
    // `a` is queued again behind its own running write, never beside it.
    expect(batches.map(({ writes }) => writes.map((write) => write.market))).toEqual([['a'], ['b', 'c', 'd', 'a']])
  })

  it('rejects only the waiters of the write that failed', async () => {
    const { lane, batches } = controlledLane()
    const first = lane.enqueue('m', 1)
    const second = lane.enqueue('m', 2)
    await until(() => batches.length === 1)
    const failure = new Error('EIO')
    batches[0]?.settle([failure])
    await expect(first).rejects.toBe(failure)
    await until(() => batches.length === 2)
    batches[1]?.settle([undefined])
    await expect(second).resolves.toBeUndefined()
  })

  it('rejects every waiter of a batch whose writer threw, then writes the next batch', async () => {
    const { lane, batches } = controlledLane()
    const running = lane.enqueue('x', 1)
    const failing = [lane.enqueue('a', 1), lane.enqueue('b', 1)]
    await until(() => batches.length === 1)
    batches[0]?.settle([undefined])
    await running
    await until(() => batches.length === 2)
    const failure = new Error('thread died')
    batches[1]?.fail(failure)
    for (const waiter of failing) await expect(waiter).rejects.toBe(failure)
    const next = lane.enqueue('a', 2)
    await until(() => batches.length === 3)
    batches[2]?.settle([undefined])
    await expect(next).resolves.toBeUndefined()
  })
})
