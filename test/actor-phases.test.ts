// The actor's store phases and idle detection, seen through the public API: a conflict answered while a store is
// in flight, close() while a read waits for its revision check, reloads after failures (which never take the
// market lock: that is kept for a second conflict in a row), and a load that fails with a value that has no
// string form.

import { afterEach, describe, expect, it, vi } from 'vitest'
import { MarketCache, PersistenceError } from '../src/index.js'
import { eventually, MemoryDatabase, settle, track } from './helpers/memory-database.js'
import { SharedMemoryDatabase, SharedStore } from './helpers/shared-memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
afterEach(() => {
  vi.restoreAllMocks()
  // Not awaited: a broken actor may never become idle, and the test has already failed then.
  for (const cache of caches.splice(0)) void cache.close()
})

async function start(database: SharedMemoryDatabase | MemoryDatabase) {
  const cache = await MarketCache.start({ database })
  caches.push(cache)
  return { cache, stock: cache.market('m') }
}

/** The next call of `revisions` waits until the returned function is called; later calls run at once. */
function holdFirstCheck(database: SharedMemoryDatabase): (() => void)[] {
  const held: (() => void)[] = []
  const revisions = database.revisions.bind(database)
  let first = true
  database.revisions = async (markets) => {
    if (first) {
      first = false
      await new Promise<void>((resolve) => held.push(resolve))
    }
    return revisions(markets)
  }
  return held
}

describe('a stale check answered while a store is in flight', () => {
  it('lets the store decide: a change the store committed is neither applied twice nor replayed', async () => {
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    const { stock } = await start(database)
    const id = await stock.addProduct({ ...sample, quantity: 10 })
    const checks = holdFirstCheck(database)
    // The first conditional store commits at once, but its answer waits.
    const answers: (() => void)[] = []
    const storeIf = database.storeIf.bind(database)
    let first = true
    database.storeIf = async (market, snapshot, expected) => {
      const written = await storeIf(market, snapshot, expected)
      if (first) {
        first = false
        await new Promise<void>((resolve) => answers.push(resolve))
      }
      return written
    }
    const read = track(stock.getProduct(id)) // held for its revision check
    const sale = track(stock.adjustQuantity(id, -1)) // its store covers the read
    await settle()
    expect(checks).toHaveLength(1)
    expect(answers).toHaveLength(1)
    expect(store.snapshot('m')?.products[id]?.quantity).toBe(9)
    // The read's check now finds the revision this instance's own store committed: newer than the one it knows.
    checks[0]?.()
    await settle()
    expect(read.settled).toBe(false)
    answers[0]?.()
    expect(await eventually(() => read.settled && sale.settled)).toBe(true)
    expect(read.value).toMatchObject({ quantity: 10 })
    expect(sale.value).toBe(9)
    expect(store.snapshot('m')?.products[id]?.quantity).toBe(9)
    expect(database.conflicts).toEqual([])
    expect(await stock.getProduct(id)).toMatchObject({ quantity: 9 })
  })
})

describe('idle detection', () => {
  it('close() waits for a read held for its revision check, and the read is answered', async () => {
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    const { cache, stock } = await start(database)
    const id = await stock.addProduct({ ...sample, quantity: 10 })
    const closeDatabase = vi.spyOn(database, 'close')
    database.hold = true
    const read = track(stock.getProduct(id))
    await settle()
    expect(database.waiting).toHaveLength(1) // the read's check: the mailbox is empty, nothing is unwritten
    const closed = track(cache.close())
    await settle()
    expect(closed.settled).toBe(false)
    expect(closeDatabase).not.toHaveBeenCalled()
    database.hold = false
    database.letGo()
    expect(await eventually(() => read.settled && closed.settled)).toBe(true)
    expect(read.value).toMatchObject({ quantity: 10 })
    expect(closeDatabase).toHaveBeenCalledTimes(1)
  })
})

describe('reloads after a failure', () => {
  it('rejects calls replayed after a conflict with PersistenceError when the reload fails, then works again', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0) // no pause before the reload
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    const { stock } = await start(database)
    const id = await stock.addProduct({ ...sample, quantity: 10 })
    store.setQuantity('m', id, 4) // another instance stores first: the next store conflicts
    const get = database.get.bind(database)
    let gets = 0
    database.get = (market) => {
      gets += 1
      return gets === 1 ? Promise.reject(new Error('connection lost')) : get(market)
    }
    const sale = track(stock.adjustQuantity(id, -1))
    expect(await eventually(() => sale.settled)).toBe(true)
    expect(database.conflicts).toEqual(['m'])
    expect(sale.error).toBeInstanceOf(PersistenceError)
    expect(sale.error).toMatchObject({ market: 'm', cause: { message: 'connection lost' } })
    expect(store.snapshot('m')?.products[id]?.quantity).toBe(4)
    expect(await stock.adjustQuantity(id, -1)).toBe(3)
  })

  it('reloads after a failed store without taking the market lock', async () => {
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    const { stock } = await start(database)
    const id = await stock.addProduct({ ...sample, quantity: 10 })
    const storeIf = database.storeIf.bind(database)
    let stores = 0
    database.storeIf = (market, snapshot, expected) => {
      stores += 1
      return stores === 1 ? Promise.reject(new Error('connection lost')) : storeIf(market, snapshot, expected)
    }
    await expect(stock.adjustQuantity(id, -1)).rejects.toBeInstanceOf(PersistenceError)
    expect(await stock.getProduct(id)).toMatchObject({ quantity: 10 })
    expect(await stock.adjustQuantity(id, -2)).toBe(8)
    // The lock (a transaction holding the row on PostgreSQL) is for an instance that lost twice in a row.
    expect(database.locksTaken).toBe(0)
  })

  it('reloads after a failed load without taking the market lock', async () => {
    const store = new SharedStore()
    store.foreignWrite('m', (products) => {
      products.a = { ...sample, quantity: 10 }
    })
    const database = new SharedMemoryDatabase(store)
    const get = database.get.bind(database)
    let gets = 0
    database.get = (market) => {
      gets += 1
      return gets === 1 ? Promise.reject(new Error('connection lost')) : get(market)
    }
    const { stock } = await start(database)
    await expect(stock.getProduct('a')).rejects.toBeInstanceOf(PersistenceError)
    expect(await stock.getProduct('a')).toMatchObject({ quantity: 10 })
    expect(await stock.adjustQuantity('a', -2)).toBe(8)
    expect(gets).toBe(2)
    expect(database.locksTaken).toBe(0)
  })

  it('rejects calls queued behind a load that failed with a value without a string form, then loads again', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const database = new MemoryDatabase()
    database.data.set('m', JSON.stringify({ format: 1, market: 'm', revision: 1, products: { a: sample } }))
    const reason = Object.create(null) // String(reason) throws
    database.failNextGet = reason
    const { stock } = await start(database)
    const first = track(stock.getProduct('a'))
    const second = track(stock.listProducts())
    expect(await eventually(() => first.settled && second.settled)).toBe(true)
    expect(first.error).toBeInstanceOf(PersistenceError)
    expect(first.error).toMatchObject({ market: 'm', message: 'Could not load market `m`: [object Object]' })
    expect((first.error as PersistenceError).cause).toBe(reason)
    expect(second.error).toBe(first.error)
    expect(warnings).not.toHaveBeenCalled()
    expect(await stock.getProduct('a')).toEqual(sample)
  })
})

// A Database may reject with a value that has no string form. Wording the PersistenceError with String(cause)
// threw inside the promise callback: the caller's promise never settled, and after a failed store the actor stayed
// in its `storing` phase, so the market never stored again and close() never resolved.
describe('a store or check that fails with a value without a string form', () => {
  async function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
    const unhandled: unknown[] = []
    const record = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', record)
    try {
      await run()
      await settle()
    } finally {
      process.off('unhandledRejection', record)
    }
    return unhandled
  }

  it('rejects the change whose store failed with PersistenceError', async () => {
    const database = new MemoryDatabase()
    const { stock } = await start(database)
    database.store = () => Promise.reject(Object.create(null))
    const added = track(stock.addProduct(sample))
    const unhandled = await unhandledDuring(async () => {
      await eventually(() => added.settled, 50)
    })
    expect(unhandled).toEqual([])
    expect(added.error).toBeInstanceOf(PersistenceError)
  })

  it('rejects the read whose revision check failed with PersistenceError', async () => {
    const database = new SharedMemoryDatabase(new SharedStore())
    const { stock } = await start(database)
    await stock.addProduct(sample)
    database.revisions = () => Promise.reject(Object.create(null))
    const read = track(stock.listProducts())
    const unhandled = await unhandledDuring(async () => {
      await eventually(() => read.settled, 50)
    })
    expect(unhandled).toEqual([])
    expect(read.error).toBeInstanceOf(PersistenceError)
  })
})
