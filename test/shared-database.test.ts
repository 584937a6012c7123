import { afterEach, describe, expect, it } from 'vitest'
import { ConflictError, InsufficientStockError, MarketCache } from '../src/index.js'
import { settle, track, until } from './helpers/memory-database.js'
import { SharedMemoryDatabase, SharedStore } from './helpers/shared-memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

async function instance(store: SharedStore, options: { maxConflicts?: number } = {}) {
  const database = new SharedMemoryDatabase(store)
  const cache = await MarketCache.start({ database, ...options })
  caches.push(cache)
  return { cache, database, stock: cache.market('m') }
}

describe('actor on a shared database', () => {
  it('sells exactly the stock through two instances hammering one product, with no conflict reaching a caller', async () => {
    const store = new SharedStore()
    const a = await instance(store)
    const b = await instance(store)
    const id = await a.stock.addProduct({ ...sample, quantity: 500 })
    const changes: number[] = []
    for (const { cache } of [a, b]) cache.on('change', ({ revision }) => changes.push(revision))
    const sales = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? a : b).stock.adjustQuantity(id, -1))
    const outcomes = await Promise.allSettled(sales)
    const sold = outcomes.filter((outcome) => outcome.status === 'fulfilled').length
    const refused = outcomes.filter(
      (outcome) => outcome.status === 'rejected' && outcome.reason instanceof InsufficientStockError,
    ).length
    expect(sold).toBe(500)
    expect(refused).toBe(500)
    expect(store.snapshot('m')?.products[id]?.quantity).toBe(0)
    // One change event per sale, each at a distinct revision that was stored: add (1) plus 500 sales.
    expect(new Set(changes).size).toBe(500)
    expect(store.snapshot('m')?.revision).toBe(501)
    expect(await b.stock.getProduct(id)).toMatchObject({ quantity: 0 })
  })

  it('sells exactly the stock when three instances each run clients that sell one unit at a time', async () => {
    const store = new SharedStore()
    const instances = [await instance(store), await instance(store), await instance(store)]
    const id = await instances[0]?.stock.addProduct({ ...sample, quantity: 300 })
    const sold = [0, 0, 0]
    const unexpected: unknown[] = []
    const client = async (which: number) => {
      const { stock } = instances[which] as (typeof instances)[number]
      for (;;) {
        try {
          await stock.adjustQuantity(id as string, -1)
          sold[which] = (sold[which] as number) + 1
        } catch (error) {
          if (!(error instanceof InsufficientStockError)) unexpected.push(error)
          return
        }
      }
    }
    await Promise.all(Array.from({ length: 30 }, (_, i) => client(i % 3)))
    expect(unexpected).toEqual([])
    expect(sold.reduce((a, b) => a + b)).toBe(300)
    expect(store.snapshot('m')?.products[id as string]?.quantity).toBe(0)
    expect(instances.reduce((total, { database }) => total + database.conflicts.length, 0)).toBeGreaterThan(0)
  })

  it('lets a read through one instance see a change the other acknowledged before it was called', async () => {
    const store = new SharedStore()
    const a = await instance(store)
    const b = await instance(store)
    const id = await a.stock.addProduct(sample)
    expect(await b.stock.getProduct(id)).toEqual(sample)
    for (let quantity = 1; quantity <= 50; quantity++) {
      const writer = quantity % 2 === 0 ? a : b
      const reader = writer === a ? b : a
      await writer.stock.updateProduct(id, { ...sample, quantity })
      expect((await reader.stock.getProduct(id))?.quantity).toBe(quantity)
      expect((await reader.stock.listProducts()).map((item) => item.quantity)).toEqual([quantity])
    }
    const added = await a.stock.addProduct({ ...sample, name: 'second' })
    expect(await b.stock.deleteProduct(added)).toBe(true)
    expect(await a.stock.getProduct(added)).toBeUndefined()
  })

  it('holds a read until a revision check that started after it, and answers again on a newer revision', async () => {
    const store = new SharedStore()
    const b = await instance(store)
    const id = await b.stock.addProduct(sample)
    b.database.hold = true
    const read = track(b.stock.getProduct(id))
    await settle()
    expect(b.database.waiting).toHaveLength(1)
    store.foreignWrite('m', (products) => {
      ;(products[id] as { quantity: number }).quantity = 42
    })
    b.database.letGo()
    await settle()
    expect(read.settled).toBe(false)
    // The check saw a newer revision: the read reloads and is answered again after a fresh check.
    await until(() => b.database.waiting.length > 0, 'a second check')
    b.database.hold = false
    b.database.letGo()
    await until(() => read.settled, 'the read')
    expect(read.value).toMatchObject({ quantity: 42 })
  })

  it('shares one revision check among the reads of many markets waiting at the same moment', async () => {
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    let rounds = 0
    const revisions = database.revisions.bind(database)
    database.revisions = (markets) => {
      rounds += 1
      return revisions(markets)
    }
    const cache = await MarketCache.start({ database })
    caches.push(cache)
    await Promise.all(['a', 'b', 'c'].map((name) => cache.market(name).listProducts()))
    rounds = 0
    await Promise.all(['a', 'b', 'c', 'a'].map((name) => cache.market(name).listProducts()))
    expect(rounds).toBe(1)
  })

  it('releases a read waiting for its check once a later change of this instance is stored, as computed', async () => {
    const store = new SharedStore()
    const b = await instance(store)
    const id = await b.stock.addProduct({ ...sample, quantity: 10 })
    b.database.hold = true
    const read = track(b.stock.getProduct(id))
    const sale = track(b.stock.adjustQuantity(id, -1))
    await settle()
    // Held: the read's check (1st) and the sale's conditional store (2nd). Store the sale first.
    expect(b.database.waiting).toHaveLength(2)
    b.database.waiting.splice(1, 1)[0]?.()
    await settle()
    expect(store.snapshot('m')?.products[id]?.quantity).toBe(9)
    store.foreignWrite('m', (products) => {
      ;(products[id] as { quantity: number }).quantity -= 5
    })
    b.database.hold = false
    b.database.letGo()
    await until(() => read.settled && sale.settled, 'both replies')
    // The sale's conditional store committed after the read was computed, on the revision the read saw: the
    // read is answered as computed (before the sale), never applied again after it.
    expect(sale.value).toBe(9)
    expect(read.value).toMatchObject({ quantity: 10 })
    expect(store.snapshot('m')?.products[id]?.quantity).toBe(4)
  })

  it('replays held calls after a conflict, in their order, before calls queued after them', async () => {
    const store = new SharedStore()
    const b = await instance(store)
    const id = await b.stock.addProduct({ ...sample, quantity: 10 })
    b.database.hold = true
    const first = track(b.stock.adjustQuantity(id, -1))
    const second = track(b.stock.adjustQuantity(id, -2))
    await settle()
    store.foreignWrite('m', (products) => {
      ;(products[id] as { quantity: number }).quantity = 100
    })
    b.database.hold = false
    b.database.letGo()
    await until(() => first.settled && second.settled, 'the replayed sales')
    const third = await b.stock.adjustQuantity(id, -4)
    expect([first.value, second.value, third]).toEqual([99, 97, 93])
    expect(b.database.conflicts.length).toBeGreaterThan(0)
    expect(store.snapshot('m')?.products[id]?.quantity).toBe(93)
  })

  it('takes the market lock after two conflicts in a row, so the instance that keeps losing gets its turn', async () => {
    const store = new SharedStore()
    const b = await instance(store)
    const id = await b.stock.addProduct({ ...sample, quantity: 10 })
    b.database.hold = true
    const sale = track(b.stock.adjustQuantity(id, -3))
    const read = track(b.stock.getProduct(id))
    await settle()
    const bump = () =>
      store.foreignWrite('m', (products) => {
        ;(products[id] as { quantity: number }).quantity += 10
      })
    bump()
    b.database.letGo() // the store: conflict 1, an optimistic replay
    await until(() => b.database.waiting.length === 2, 'the replayed store')
    bump()
    b.database.hold = false
    while (b.database.waiting.length > 0) b.database.letGo() // conflict 2: the replay takes the lock
    await until(() => sale.settled && read.settled, 'the replies')
    expect(b.database.locksTaken).toBe(1)
    expect(sale.value).toBe(27)
    expect(read.value).toMatchObject({ quantity: 27 })
    expect(store.snapshot('m')?.products[id]?.quantity).toBe(27)
    // The lock ended with the store: another instance stores at once.
    const other = await instance(store)
    expect(await other.stock.adjustQuantity(id, -7)).toBe(20)
  })

  it('ends a lock taken for a replay that stored nothing, and answers its reads from the locked state', async () => {
    const store = new SharedStore()
    const b = await instance(store)
    const id = await b.stock.addProduct({ ...sample, quantity: 10 })
    b.database.hold = true
    const first = track(b.stock.getProduct(id))
    await settle()
    store.foreignWrite('m', (products) => {
      ;(products[id] as { quantity: number }).quantity = 1
    })
    b.database.letGo() // stale: replay 1
    await until(() => b.database.waiting.length === 1, 'the replayed check')
    store.foreignWrite('m', (products) => {
      ;(products[id] as { quantity: number }).quantity = 2
    })
    b.database.hold = false
    b.database.letGo() // stale again: replay 2 under the lock
    await until(() => first.settled, 'the read')
    expect(first.value).toMatchObject({ quantity: 2 })
    expect(b.database.locksTaken).toBe(1)
    await until(() => store.turns.size === 0, 'the lock to end')
    expect(await b.stock.adjustQuantity(id, 1)).toBe(3)
  })

  it('rejects the waiting calls with ConflictError after maxConflicts conflicts in a row, storing nothing of theirs', async () => {
    const store = new SharedStore()
    const b = await instance(store, { maxConflicts: 1 })
    const id = await b.stock.addProduct({ ...sample, quantity: 10 })
    b.database.hold = true
    const sale = b.stock.adjustQuantity(id, -3)
    await settle()
    store.foreignWrite('m', (products) => {
      ;(products[id] as { quantity: number }).quantity = 20
    })
    b.database.hold = false
    b.database.letGo()
    const error = await sale.catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConflictError)
    expect(error).toMatchObject({ code: 'CONFLICT', market: 'm', attempts: 1 })
    expect(store.snapshot('m')?.products[id]?.quantity).toBe(20)
    // The market reloaded: the next call works on the stored state.
    expect(await b.stock.adjustQuantity(id, -1)).toBe(19)
  })
})
