import { afterEach, describe, expect, it } from 'vitest'
import {
  type ChangeEvent,
  ConflictError,
  MailboxFullError,
  MarketCache,
  type PersistErrorEvent,
  type PersistedEvent,
  PersistenceError,
} from '../src/index.js'
import { MemoryDatabase, settle, track, until } from './helpers/memory-database.js'
import { SharedMemoryDatabase, SharedStore } from './helpers/shared-memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
afterEach(async () => {
  // A store left waiting by a failed assertion must not keep close() waiting.
  for (const database of manualDatabases.splice(0)) {
    database.manual = false
    while (database.pending.length > 0) database.resolveNext()
  }
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

const manualDatabases: MemoryDatabase[] = []
function manualDatabase(): MemoryDatabase {
  const database = new MemoryDatabase({ manual: true })
  manualDatabases.push(database)
  return database
}

async function start(database: MemoryDatabase | SharedMemoryDatabase, options: { maxMailbox?: number } = {}) {
  const cache = await MarketCache.start({ database, ...options })
  caches.push(cache)
  return { cache, stock: cache.market('m') }
}

describe('actor errors name the market and the cause', () => {
  it('rejects calls behind a failed load with a PersistenceError saying what failed', async () => {
    const database = new MemoryDatabase()
    database.failNextGet = new Error('EIO: i/o error, read')
    const { stock } = await start(database)
    const error = await stock.listProducts().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(PersistenceError)
    expect(error).toMatchObject({
      message: 'Could not load market `m`: EIO: i/o error, read',
      market: 'm',
    })
  })

  it('rejects changes whose store failed with a PersistenceError carrying the failure message', async () => {
    const database = manualDatabase()
    const { cache, stock } = await start(database)
    const events: PersistErrorEvent[] = []
    cache.on('persistError', (event) => events.push(event))
    const adding = track(stock.addProduct(sample))
    await until(() => database.pending.length === 1, 'the store')
    database.rejectNext(new Error('ENOSPC: no space left on device'))
    await until(() => adding.settled, 'the add')
    expect(adding.error).toBeInstanceOf(PersistenceError)
    expect(adding.error).toMatchObject({
      message: 'Could not store market `m`: ENOSPC: no space left on device',
      market: 'm',
    })
    expect(events).toEqual([{ market: 'm', error: adding.error }])
  })

  it('describes a store failure that is not an Error by its string form', async () => {
    const database = manualDatabase()
    const { stock } = await start(database)
    const adding = track(stock.addProduct(sample))
    await until(() => database.pending.length === 1, 'the store')
    database.rejectNext('quota exceeded')
    await until(() => adding.settled, 'the add')
    expect(adding.error).toMatchObject({
      message: 'Could not store market `m`: quota exceeded',
      cause: 'quota exceeded',
    })
  })

  it('rejects a read on a shared database whose revision check failed, naming the market', async () => {
    const database = new SharedMemoryDatabase(new SharedStore())
    const { stock } = await start(database)
    const id = await stock.addProduct(sample)
    database.revisions = () => Promise.reject(new Error('connection reset'))
    const error = await stock.getProduct(id).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(PersistenceError)
    expect(error).toMatchObject({ message: 'Could not check market `m`: connection reset', market: 'm' })
  })
})

describe('actor events', () => {
  it('emits persisted with the stored revision and a duration, and change with the change once durable', async () => {
    const database = manualDatabase()
    const { cache, stock } = await start(database)
    const persisted: PersistedEvent[] = []
    const changes: ChangeEvent[] = []
    let clock = 0
    await stock.listProducts()
    const before = performance.now()
    cache.on('persisted', (event) => {
      clock = performance.now()
      persisted.push(event)
    })
    cache.on('change', (event) => changes.push(event))
    const adding = track(stock.addProduct(sample))
    await until(() => database.pending.length === 1, 'the store')
    expect(changes).toEqual([])
    database.resolveNext()
    await until(() => adding.settled, 'the add')
    expect(changes).toEqual([{ market: 'm', revision: 1, operation: 'add', productId: adding.value }])
    expect(persisted).toHaveLength(1)
    expect(persisted[0]).toMatchObject({ market: 'm', revision: 1 })
    const duration = persisted[0]?.durationMs as number
    expect(duration).toBeGreaterThanOrEqual(0)
    // The store started after \`before\` and ended before the listener ran.
    expect(duration).toBeLessThanOrEqual(clock - before)
  })
})

describe('actor bookkeeping', () => {
  it('counts applied changes not yet durable as pending writes, and none once stored', async () => {
    const database = manualDatabase()
    const { cache, stock } = await start(database)
    await stock.listProducts()
    expect(cache.stats().pendingWrites).toBe(0)
    const adds = [stock.addProduct(sample), stock.addProduct(sample)]
    await until(() => database.pending.length === 1, 'the store')
    expect(cache.stats().pendingWrites).toBe(2)
    database.resolveNext()
    await Promise.all(adds)
    expect(cache.stats().pendingWrites).toBe(0)
  })

  it('rejects with MailboxFullError exactly when maxMailbox replies are held at the gate', async () => {
    const database = manualDatabase()
    const { stock } = await start(database, { maxMailbox: 2 })
    await stock.listProducts()
    const first = track(stock.addProduct(sample))
    const second = track(stock.addProduct(sample))
    await until(() => database.pending.length === 1, 'the store')
    // Nothing is queued: both replies wait at the output gate for the store in flight.
    const overflow = track(stock.listProducts())
    await settle()
    expect(overflow.error).toBeInstanceOf(MailboxFullError)
    expect(overflow.error).toMatchObject({ market: 'm', capacity: 2 })
    database.resolveNext()
    await until(() => first.settled && second.settled, 'the adds')
    expect(first.error).toBeUndefined()
    expect(second.error).toBeUndefined()
  })

  it('accepts a call while fewer than maxMailbox replies are held', async () => {
    const database = manualDatabase()
    const { stock } = await start(database, { maxMailbox: 2 })
    await stock.listProducts()
    const first = track(stock.addProduct(sample))
    await until(() => database.pending.length === 1, 'the store')
    const read = track(stock.listProducts())
    await settle()
    expect(read.settled).toBe(false)
    database.resolveNext()
    await until(() => first.settled && read.settled, 'the replies')
    expect(read.error).toBeUndefined()
    expect(read.value).toHaveLength(1)
  })

  it('close waits until every change is durable', async () => {
    const database = new MemoryDatabase({ manual: true })
    const cache = await MarketCache.start({ database })
    const stock = cache.market('m')
    const adding = track(stock.addProduct(sample))
    await until(() => database.pending.length === 1, 'the store')
    const closing = track(cache.close())
    await settle()
    expect(closing.settled).toBe(false)
    database.resolveNext()
    await until(() => closing.settled, 'the close')
    expect(adding.settled).toBe(true)
    expect(database.stored('m')?.revision).toBe(1)
  })
})

describe('actor conflicts', () => {
  it('counts conflicts afresh after rejecting with ConflictError', async () => {
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    const cache = await MarketCache.start({ database, maxConflicts: 1 })
    caches.push(cache)
    const stock = cache.market('m')
    const id = await stock.addProduct({ ...sample, quantity: 10 })
    for (const quantity of [20, 30]) {
      database.hold = true
      const sale = stock.adjustQuantity(id, -3)
      await settle()
      store.foreignWrite('m', (products) => {
        ;(products[id] as { quantity: number }).quantity = quantity
      })
      database.hold = false
      database.letGo()
      const error = await sale.catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(ConflictError)
      expect(error).toMatchObject({ market: 'm', attempts: 1 })
    }
    expect(await stock.getProduct(id)).toMatchObject({ quantity: 30 })
  })
})
