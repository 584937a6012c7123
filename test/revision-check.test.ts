import { describe, expect, it } from 'vitest'
import type { SharedDatabase } from '../src/database.js'
import { RevisionCheck } from '../src/revision-check.js'
import { settle, track } from './helpers/memory-database.js'

/** A shared database double whose `revisions` queries wait until the test answers them. */
function revisionsDatabase() {
  const queries: {
    markets: readonly string[]
    answer: (found: Map<string, number>) => void
    fail: (error: unknown) => void
  }[] = []
  const database = {
    shared: true,
    revisions(markets: readonly string[]) {
      return new Promise<Map<string, number>>((answer, fail) => queries.push({ markets: [...markets], answer, fail }))
    },
  } as unknown as SharedDatabase
  return { database, queries }
}

describe('RevisionCheck', () => {
  it('batches the checks of one synchronous burst into one query across markets', async () => {
    const { database, queries } = revisionsDatabase()
    const check = new RevisionCheck(database)
    const a = check.check('a')
    const b = check.check('b')
    const again = check.check('a')
    await settle()
    expect(queries.map((query) => query.markets)).toEqual([['a', 'b']])
    queries[0]?.answer(new Map([['a', 7]]))
    expect(await a).toBe(7)
    expect(await again).toBe(7)
    // A market with nothing stored is absent from the answer: revision 0.
    expect(await b).toBe(0)
  })

  it('answers a check asked while a query runs with a later query, never the one already running', async () => {
    const { database, queries } = revisionsDatabase()
    const check = new RevisionCheck(database)
    const first = track(check.check('a'))
    await settle()
    expect(queries).toHaveLength(1)
    const second = track(check.check('a'))
    const third = track(check.check('b'))
    await settle()
    // A round starts only after the previous one finished.
    expect(queries).toHaveLength(1)
    queries[0]?.answer(new Map([['a', 1]]))
    await settle()
    expect(first).toMatchObject({ settled: true, value: 1 })
    expect(second.settled).toBe(false)
    expect(queries.map((query) => query.markets)).toEqual([['a'], ['a', 'b']])
    queries[1]?.answer(
      new Map([
        ['a', 2],
        ['b', 5],
      ]),
    )
    await settle()
    expect(second).toMatchObject({ settled: true, value: 2 })
    expect(third).toMatchObject({ settled: true, value: 5 })
    expect(queries).toHaveLength(2)
  })

  it('rejects every check of a failed query, and the next check runs a new query', async () => {
    const { database, queries } = revisionsDatabase()
    const check = new RevisionCheck(database)
    const a = check.check('a')
    const b = check.check('b')
    await settle()
    const failure = new Error('connection lost')
    queries[0]?.fail(failure)
    await expect(a).rejects.toBe(failure)
    await expect(b).rejects.toBe(failure)
    await settle()
    const later = check.check('a')
    await settle()
    expect(queries).toHaveLength(2)
    queries[1]?.answer(new Map([['a', 3]]))
    expect(await later).toBe(3)
  })

  it('rejects the checks when the database throws instead of returning a promise, and keeps working', async () => {
    const failure = new Error('not connected')
    let calls = 0
    const database = {
      shared: true,
      revisions: (markets: readonly string[]) => {
        calls += 1
        if (calls === 1) throw failure
        return Promise.resolve(new Map(markets.map((market) => [market, 4])))
      },
    } as unknown as SharedDatabase
    const check = new RevisionCheck(database)
    await expect(check.check('a')).rejects.toBe(failure)
    expect(await check.check('a')).toBe(4)
  })
})
