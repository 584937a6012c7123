import { afterEach, describe, expect, it } from 'vitest'
import { MarketCache, ValidationError } from '../src/index.js'
import { MemoryDatabase } from './helpers/memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

/** The message of the ValidationError `call` rejects with. */
async function messageOf(call: () => Promise<unknown>): Promise<string> {
  const error = await call().then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(ValidationError)
  return (error as ValidationError).message
}

describe('a product that is not an object', () => {
  it('is a ValidationError naming the value it got instead', async () => {
    const cache = await MarketCache.start({ database: new MemoryDatabase() })
    caches.push(cache)
    const stock = cache.market('m')
    const id = await stock.addProduct(sample)
    expect(await messageOf(() => stock.addProduct(null as never))).toBe('Expected a product object, got `null`')
    expect(await messageOf(() => stock.addProduct('milk' as never))).toBe('Expected a product object, got `"milk"`')
    expect(await messageOf(() => stock.updateProduct(id, [] as never))).toBe('Expected a product object, got `[]`')
    expect(await stock.listProducts()).toEqual([{ id, ...sample }])
  })
})
