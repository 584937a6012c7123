import { afterEach, describe, expect, it } from 'vitest'
import {
  ClosedError,
  InsufficientStockError,
  MarketCache,
  ProductNotFoundError,
  ValidationError,
} from '../src/index.js'
import { MemoryDatabase } from './helpers/memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

async function start(database = new MemoryDatabase()) {
  const cache = await MarketCache.start({ database })
  caches.push(cache)
  return { cache, database, bobs: cache.market("Bob's list") }
}

describe('MarketStock', () => {
  it('runs the seed story: add, get, update, delete', async () => {
    const { bobs } = await start()
    const id = await bobs.addProduct(sample)
    expect(id).toMatch(/^[\w-]{21}$/)
    expect(await bobs.getProduct(id)).toEqual(sample)
    const updated = { name: 'linguissa', quantity: 10, expirationDate: '2023-08-15', price: 24.99 }
    await bobs.updateProduct(id, updated)
    expect(await bobs.getProduct(id)).toEqual(updated)
    expect(await bobs.deleteProduct(id)).toBe(true)
    expect(await bobs.getProduct(id)).toBeUndefined()
    expect(await bobs.deleteProduct(id)).toBe(false)
  })

  it('exposes its market name read-only', async () => {
    const { bobs } = await start()
    expect(bobs.name).toBe("Bob's list")
    expect(() => {
      ;(bobs as { name: string }).name = 'other'
    }).toThrow(TypeError)
  })

  it('lists products with ids in insertion order, updates keeping their place', async () => {
    const { bobs } = await start()
    const a = await bobs.addProduct({ ...sample, name: 'a' })
    const b = await bobs.addProduct({ ...sample, name: 'b' })
    const c = await bobs.addProduct({ ...sample, name: 'c' })
    await bobs.updateProduct(a, { ...sample, name: 'a2' })
    await bobs.deleteProduct(b)
    expect(await bobs.listProducts()).toEqual([
      { id: a, ...sample, name: 'a2' },
      { id: c, ...sample, name: 'c' },
    ])
  })

  it('adjusts quantity atomically and returns the new quantity', async () => {
    const { bobs } = await start()
    const id = await bobs.addProduct(sample)
    expect(await bobs.adjustQuantity(id, 7)).toBe(12)
    expect(await bobs.adjustQuantity(id, -12)).toBe(0)
    expect((await bobs.getProduct(id))?.quantity).toBe(0)
  })

  it('rejects a sale that would take quantity below zero and changes nothing', async () => {
    const { bobs, database } = await start()
    const id = await bobs.addProduct(sample)
    const revision = database.stored("Bob's list")?.revision
    const error = await bobs.adjustQuantity(id, -6).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InsufficientStockError)
    expect(error).toMatchObject({ code: 'INSUFFICIENT_STOCK', productId: id, available: 5, delta: -6 })
    expect((await bobs.getProduct(id))?.quantity).toBe(5)
    expect(database.stored("Bob's list")?.revision).toBe(revision)
  })

  it('treats a zero delta as a read: no new revision', async () => {
    const { bobs, database } = await start()
    const id = await bobs.addProduct(sample)
    expect(await bobs.adjustQuantity(id, 0)).toBe(5)
    expect(database.storeCalls).toHaveLength(1)
  })

  it('rejects an adjustment past the safe integer range', async () => {
    const { bobs } = await start()
    const id = await bobs.addProduct({ ...sample, quantity: Number.MAX_SAFE_INTEGER })
    await expect(bobs.adjustQuantity(id, 1)).rejects.toBeInstanceOf(ValidationError)
    expect((await bobs.getProduct(id))?.quantity).toBe(Number.MAX_SAFE_INTEGER)
  })

  it('rejects update and adjust of an unknown id with ProductNotFoundError', async () => {
    const { bobs } = await start()
    await expect(bobs.updateProduct('nope', sample)).rejects.toMatchObject({
      name: 'ProductNotFoundError',
      code: 'PRODUCT_NOT_FOUND',
      productId: 'nope',
      market: "Bob's list",
    })
    await expect(bobs.adjustQuantity('nope', 1)).rejects.toBeInstanceOf(ProductNotFoundError)
  })

  it('rejects invalid input with ValidationError and stores nothing', async () => {
    const { bobs, database } = await start()
    await expect(bobs.addProduct({ ...sample, expirate_date: '2023-08-08' } as never)).rejects.toMatchObject({
      code: 'VALIDATION',
    })
    await expect(bobs.addProduct({ ...sample, quantity: -1 })).rejects.toBeInstanceOf(ValidationError)
    const id = await bobs.addProduct(sample)
    await expect(bobs.updateProduct(id, { ...sample, price: -1 })).rejects.toBeInstanceOf(ValidationError)
    await expect(bobs.adjustQuantity(id, 1.5)).rejects.toBeInstanceOf(ValidationError)
    await expect(bobs.getProduct(42 as never)).rejects.toBeInstanceOf(ValidationError)
    expect(await bobs.listProducts()).toEqual([{ id, ...sample }])
    expect(database.storeCalls).toHaveLength(1)
  })

  it('hands out copies: mutating a result or an input never changes the stored state', async () => {
    const { bobs } = await start()
    const input = { ...sample }
    const id = await bobs.addProduct(input)
    input.quantity = 999
    const got = await bobs.getProduct(id)
    if (got) got.quantity = 1000
    const [listed] = await bobs.listProducts()
    if (listed) listed.name = 'mutated'
    expect(await bobs.getProduct(id)).toEqual(sample)
  })

  it('applies calls in the order they were made', async () => {
    const { bobs } = await start()
    const id = await bobs.addProduct(sample)
    const results = await Promise.all([
      bobs.adjustQuantity(id, 1),
      bobs.updateProduct(id, { ...sample, quantity: 100 }),
      bobs.adjustQuantity(id, -1),
      bobs.getProduct(id),
      bobs.deleteProduct(id),
      bobs.getProduct(id),
    ])
    expect(results).toEqual([6, undefined, 99, { ...sample, quantity: 99 }, true, undefined])
  })

  it('refuses an id from generateId that is taken or looks like an array index, keeping the stored product', async () => {
    const ids = ['fixed', 'fixed', '10', '4294967295']
    const database = new MemoryDatabase()
    const cache = await MarketCache.start({ database, generateId: () => ids.shift() ?? 'spare' })
    caches.push(cache)
    const stock = cache.market('m')
    expect(await stock.addProduct(sample)).toBe('fixed')
    await expect(stock.addProduct({ ...sample, name: 'intruder' })).rejects.toThrow('already in use')
    await expect(stock.addProduct(sample)).rejects.toThrow('array index')
    // 2^32 - 1 is not an array index, so JSON keeps its place.
    expect(await stock.addProduct(sample)).toBe('4294967295')
    expect((await stock.listProducts()).map((item) => [item.id, item.name])).toEqual([
      ['fixed', 'linguissa'],
      ['4294967295', 'linguissa'],
    ])
  })

  it('rejects with ClosedError after the cache is closed', async () => {
    const { cache, bobs } = await start()
    await cache.close()
    await expect(bobs.listProducts()).rejects.toBeInstanceOf(ClosedError)
    await expect(bobs.addProduct(sample)).rejects.toMatchObject({ code: 'CLOSED' })
  })
})
