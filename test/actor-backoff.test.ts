// The pause before a replay's reload, and a replay that drops the state while a store is scheduled. The actor
// sleeps with node:timers/promises (so that fake timers in a user's tests never stall it); here that sleep is
// replaced by one the test sees and lets go, so the interleavings are controlled, not timed.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MarketCache } from '../src/index.js'
import { eventually, settle, track } from './helpers/memory-database.js'
import { SharedMemoryDatabase, SharedStore } from './helpers/shared-memory-database.js'
import { sample } from './helpers/temp-dir.js'

const sleeps = vi.hoisted(() => ({
  /** The milliseconds of every sleep asked for, in order. */
  asked: [] as number[],
  /** While true, a sleep waits in `waiting` until the test lets it go. */
  hold: false,
  waiting: [] as (() => void)[],
}))

vi.mock('node:timers/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:timers/promises')>()
  return {
    ...actual,
    setTimeout: async (ms: number) => {
      sleeps.asked.push(ms)
      if (sleeps.hold) await new Promise<void>((resolve) => sleeps.waiting.push(resolve))
    },
  }
})

const caches: MarketCache[] = []
beforeEach(() => {
  sleeps.asked = []
  sleeps.hold = false
  sleeps.waiting = []
})
afterEach(() => {
  vi.restoreAllMocks()
  for (const resolve of sleeps.waiting.splice(0)) resolve()
  // Not awaited: a broken actor may never become idle, and the test has already failed then.
  for (const cache of caches.splice(0)) void cache.close()
})

async function start(database: SharedMemoryDatabase) {
  const cache = await MarketCache.start({ database })
  caches.push(cache)
  return cache.market('m')
}

describe('the pause before an optimistic retry', () => {
  it('reloads only after a random pause of up to 2 ms after a first conflict', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    const stock = await start(database)
    const id = await stock.addProduct({ ...sample, quantity: 10 })
    const get = vi.spyOn(database, 'get')
    store.setQuantity('m', id, 4)
    sleeps.hold = true
    const sale = track(stock.adjustQuantity(id, -1))
    expect(await eventually(() => sleeps.waiting.length === 1)).toBe(true)
    expect(sleeps.asked).toEqual([1]) // 0.5 of 2 ms
    expect(database.conflicts).toEqual(['m'])
    await settle()
    expect(get).not.toHaveBeenCalled()
    expect(sale.settled).toBe(false)
    sleeps.waiting.shift()?.()
    expect(await eventually(() => sale.settled)).toBe(true)
    expect(sale.value).toBe(3)
    expect(get).toHaveBeenCalledTimes(1)
  })

  it('doubles the bound of the pause with each conflict in a row when the database has no lock', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.75)
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    ;(database as { lock?: unknown }).lock = undefined
    const stock = await start(database)
    const id = await stock.addProduct({ ...sample, quantity: 10 })
    // Another instance stores the market before each of this instance's first three stores.
    const storeIf = database.storeIf.bind(database)
    let stores = 0
    database.storeIf = (market, snapshot, expected) => {
      stores += 1
      if (stores <= 3) store.setQuantity('m', id, 20 + stores)
      return storeIf(market, snapshot, expected)
    }
    expect(await stock.adjustQuantity(id, -1)).toBe(22)
    expect(database.conflicts).toEqual(['m', 'm', 'm'])
    expect(sleeps.asked).toEqual([1.5, 3, 6]) // 0.75 of 2, 4 and 8 ms
  })
})

describe('a replay while a store is scheduled', () => {
  it('stores the replayed change once the state is reloaded', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    const stock = await start(database)
    const id = await stock.addProduct({ ...sample, quantity: 10 })
    database.hold = true
    const first = stock.adjustQuantity(id, -1)
    await settle()
    expect(database.waiting).toHaveLength(1) // the first sale's store
    // While it is in flight: a read (waits for its check) and a second sale (waits for the next store).
    const read = track(stock.getProduct(id))
    const second = track(stock.adjustQuantity(id, -2))
    await settle()
    expect(database.waiting).toHaveLength(2)
    sleeps.hold = true
    database.letGo() // the first sale is stored; the next store is scheduled for after the callers' turn
    expect(await first).toBe(9)
    // Still before that store starts: another instance stores, and the read's check finds it.
    store.setQuantity('m', id, 5)
    database.hold = false
    database.letGo()
    await settle()
    expect(sleeps.waiting).toHaveLength(1) // the replay waits for its pause; the scheduled store found nothing to store
    expect(read.settled).toBe(false)
    sleeps.waiting.shift()?.()
    expect(await eventually(() => read.settled && second.settled)).toBe(true)
    expect(read.value).toMatchObject({ quantity: 5 })
    expect(second.value).toBe(3)
    expect(store.snapshot('m')?.products[id]?.quantity).toBe(3)
  })
})
