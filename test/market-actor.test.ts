import { afterEach, describe, expect, it } from 'vitest'
import {
  CorruptDataError,
  type Database,
  FileDatabase,
  MarketCache,
  PersistenceError,
  ProductNotFoundError,
} from '../src/index.js'
import { MemoryDatabase, settle, track, until } from './helpers/memory-database.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()

const caches: MarketCache[] = []
afterEach(async () => {
  for (const cache of caches.splice(0)) {
    void cache.close()
  }
})

async function start(database: MemoryDatabase) {
  const cache = await MarketCache.start({ database })
  caches.push(cache)
  return { cache, stock: cache.market('m') }
}

describe('deferred load', () => {
  it('a call made in the same tick as market() sees the data on disk and is persisted with it', async () => {
    const database = new MemoryDatabase()
    database.data.set(
      'm',
      JSON.stringify({ format: 1, market: 'm', revision: 7, products: { old: { ...sample, name: 'old' } } }),
    )
    const cache = await MarketCache.start({ database })
    caches.push(cache)
    const id = await cache.market('m').addProduct(sample)
    const stored = database.stored('m')
    expect(stored?.revision).toBe(8)
    expect(Object.keys(stored?.products ?? {})).toEqual(['old', id])
  })

  it('rejects queued calls with PersistenceError when loading fails, and the next call loads again', async () => {
    const database = new MemoryDatabase()
    database.data.set('m', JSON.stringify({ format: 1, market: 'm', revision: 1, products: { a: sample } }))
    database.failNextGet = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })
    const { stock } = await start(database)
    const first = stock.getProduct('a')
    const second = stock.listProducts()
    await expect(first).rejects.toBeInstanceOf(PersistenceError)
    await expect(second).rejects.toMatchObject({ code: 'PERSISTENCE', cause: { code: 'EIO' } })
    expect(await stock.getProduct('a')).toEqual(sample)
  })

  it('rejects with CorruptDataError when the stored snapshot is invalid, and leaves it untouched', async () => {
    const database = new MemoryDatabase()
    const corrupt = JSON.stringify({
      format: 1,
      market: 'm',
      revision: 1,
      products: { a: { ...sample, quantity: -4 } },
    })
    database.data.set('m', corrupt)
    const { stock } = await start(database)
    await expect(stock.addProduct(sample)).rejects.toBeInstanceOf(CorruptDataError)
    await expect(stock.listProducts()).rejects.toMatchObject({ code: 'CORRUPT_DATA', market: 'm' })
    expect(database.data.get('m')).toBe(corrupt)
    expect(database.storeCalls).toHaveLength(0)
  })
})

describe('load through a Database wrapper', () => {
  type Stored = { revision: unknown; products: Record<string, { price: number }> }
  /** A FileDatabase wrapper that edits, in place, the value FileDatabase returned: a migration, a redaction. */
  async function editing(edit: (snapshot: Stored) => void): Promise<Database> {
    const dir = await tempDir()
    const seed = await MarketCache.start({ dataDir: dir })
    await seed.market('m').addProduct(sample)
    await seed.close()
    const inner = new FileDatabase({ dir })
    return {
      open: () => inner.open(),
      get: async (market) => {
        const value = await inner.get(market)
        if (value) edit(value as Stored)
        return value
      },
      store: (market, snapshot) => inner.store(market, snapshot),
      markets: () => inner.markets(),
      close: () => inner.close(),
    }
  }

  it('loads what the wrapper returned, edits included', async () => {
    const database = await editing((snapshot) => {
      for (const product of Object.values(snapshot.products)) product.price *= 100
    })
    const cache = await MarketCache.start({ database })
    expect((await cache.market('m').listProducts()).map(({ price }) => price)).toEqual([sample.price * 100])
    // Closed here, not left to the shared afterEach: its directory is removed right after the test.
    await cache.close()
  })

  it('validates what the wrapper returned: an invalid edit is CorruptDataError', async () => {
    const database = await editing((snapshot) => {
      snapshot.revision = 'oops'
    })
    const cache = await MarketCache.start({ database })
    await expect(cache.market('m').listProducts()).rejects.toBeInstanceOf(CorruptDataError)
    await cache.close()
  })
})

describe('output gate', () => {
  it('acknowledges a change only once its store resolves', async () => {
    const database = new MemoryDatabase({ manual: true })
    const { stock } = await start(database)
    const added = track(stock.addProduct(sample))
    await until(() => database.pending.length === 1, 'the store')
    await settle()
    expect(added.settled).toBe(false)
    database.resolveNext()
    await until(() => added.settled)
    expect(typeof added.value).toBe('string')
  })

  it('holds a read made after an unwritten change, including a not-found error', async () => {
    const database = new MemoryDatabase({ manual: true })
    const { stock } = await start(database)
    const added = track(stock.addProduct(sample))
    const listed = track(stock.listProducts())
    const missing = track(stock.adjustQuantity('nope', 1))
    await until(() => database.pending.length === 1)
    await settle()
    expect([added.settled, listed.settled, missing.settled]).toEqual([false, false, false])
    database.resolveNext()
    await until(() => missing.settled)
    expect(listed.value).toEqual([{ id: added.value, ...sample }])
    expect(missing.error).toBeInstanceOf(ProductNotFoundError)
  })

  it('answers a read at once when every change is already durable', async () => {
    const database = new MemoryDatabase({ manual: true })
    const { stock } = await start(database)
    const listed = track(stock.listProducts())
    await until(() => listed.settled)
    expect(listed.value).toEqual([])
    expect(database.pending).toHaveLength(0)
  })

  it('commits 200 queued changes in far fewer than 200 stores', async () => {
    const database = new MemoryDatabase({ manual: true })
    const { stock } = await start(database)
    const id = await (async () => {
      const adding = stock.addProduct({ ...sample, quantity: 0 })
      await until(() => database.pending.length === 1)
      database.resolveNext()
      return adding
    })()
    const sales = Array.from({ length: 200 }, () => track(stock.adjustQuantity(id, 1)))
    while (sales.some((sale) => !sale.settled)) {
      await until(() => database.pending.length > 0 || sales.every((sale) => sale.settled))
      if (database.pending.length > 0) database.resolveNext()
      await settle()
    }
    expect(sales.map((sale) => sale.value)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    // The add, then one store of everything applied in the same burst.
    expect(database.storeCalls.length).toBeLessThanOrEqual(3)
    expect(database.stored('m')?.revision).toBe(201)
  })

  it('keeps applying messages while a store is in flight and persists them with the next store', async () => {
    const database = new MemoryDatabase({ manual: true })
    const { stock } = await start(database)
    const first = track(stock.addProduct(sample))
    await until(() => database.pending.length === 1)
    const later = [track(stock.addProduct(sample)), track(stock.addProduct(sample)), track(stock.listProducts())]
    await settle()
    expect(database.pending).toHaveLength(1)
    database.resolveNext()
    await until(() => first.settled && database.pending.length === 1)
    expect(later.some((reply) => reply.settled)).toBe(false)
    expect(database.pending[0]?.snapshot).toMatchObject({ revision: 3 })
    database.resolveNext()
    await until(() => later.every((reply) => reply.settled))
    expect(later[2]?.value).toHaveLength(3)
  })

  it('on a failed store rejects exactly the held replies, rolls memory back and keeps working', async () => {
    const database = new MemoryDatabase({ manual: true })
    const { cache, stock } = await start(database)
    const errors: unknown[] = []
    cache.on('persistError', ({ error }) => errors.push(error))
    const kept = track(stock.addProduct({ ...sample, name: 'kept' }))
    await until(() => database.pending.length === 1)
    database.resolveNext()
    await until(() => kept.settled)

    const lost = track(stock.addProduct({ ...sample, name: 'lost' }))
    await until(() => database.pending.length === 1)
    const alsoLost = track(stock.addProduct({ ...sample, name: 'also lost' }))
    const heldRead = track(stock.listProducts())
    const cause = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
    database.rejectNext(cause)
    await until(() => lost.settled && alsoLost.settled && heldRead.settled)
    for (const reply of [lost, alsoLost, heldRead]) {
      expect(reply.error).toBeInstanceOf(PersistenceError)
      expect((reply.error as PersistenceError).cause).toBe(cause)
    }
    expect(errors).toHaveLength(1)
    expect(kept.error).toBeUndefined()

    const after = track(stock.listProducts())
    await until(() => after.settled)
    expect((after.value as { name: string }[]).map((item) => item.name)).toEqual(['kept'])
    const retry = track(stock.addProduct({ ...sample, name: 'retry' }))
    await until(() => database.pending.length === 1)
    expect(database.pending[0]?.snapshot).toMatchObject({ revision: 2 })
    database.resolveNext()
    await until(() => retry.settled)
    expect(retry.error).toBeUndefined()
  })

  it('rejects reads applied on top of a failed change, and later calls see only durable state', async () => {
    const database = new MemoryDatabase({ manual: true })
    const { stock } = await start(database)
    const lost = track(stock.addProduct({ ...sample, name: 'lost' }))
    await until(() => database.pending.length === 1)
    const readOnLost = track(stock.listProducts())
    database.rejectNext(new Error('EIO'))
    await until(() => lost.settled && readOnLost.settled)
    expect(lost.error).toBeInstanceOf(PersistenceError)
    expect(readOnLost.error).toBeInstanceOf(PersistenceError)
    expect(await stock.listProducts()).toEqual([])
    expect(database.storeCalls).toHaveLength(1)
  })
})
