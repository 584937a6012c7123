import { afterEach, describe, expect, it } from 'vitest'
import { CorruptDataError, MarketCache } from '../src/index.js'
import { MemoryDatabase } from './helpers/memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

/** Loads market `m` from a database holding `stored`; resolves to what its first call rejected with. */
async function loadError(stored: unknown): Promise<unknown> {
  const database = new MemoryDatabase()
  database.data.set('m', JSON.stringify(stored))
  const cache = await MarketCache.start({ database })
  caches.push(cache)
  const error = await cache
    .market('m')
    .listProducts()
    .catch((e: unknown) => e)
  expect(database.data.get('m')).toBe(JSON.stringify(stored))
  return error
}

const valid = { format: 1, market: 'm', revision: 1, products: { p1: sample } }

describe('loading a stored snapshot that breaks the rules', () => {
  it.each([
    ['an array', []],
    ['a number', 42],
    ['a string', 'products'],
  ])('names %s as not a JSON object', async (_title, stored) => {
    const error = await loadError(stored)
    expect(error).toBeInstanceOf(CorruptDataError)
    expect((error as CorruptDataError).message).toBe('Stored data of market `m` is corrupt: not a JSON object')
  })

  it('names an unsupported format version', async () => {
    const error = await loadError({ ...valid, format: 2 })
    expect(error).toBeInstanceOf(CorruptDataError)
    expect((error as CorruptDataError).message).toBe('Stored data of market `m` is corrupt: unsupported format `2`')
  })

  it('names the other market a snapshot belongs to', async () => {
    const error = await loadError({ ...valid, market: 'other' })
    expect(error).toBeInstanceOf(CorruptDataError)
    expect((error as CorruptDataError).message).toBe(
      'Stored data of market `m` is corrupt: holds market `other`, not `m`',
    )
  })

  it.each([
    ['a number', 5],
    ['a string', 'p1'],
  ])('refuses products given as %s instead of loading an empty market', async (_title, products) => {
    const error = await loadError({ ...valid, products })
    expect(error).toBeInstanceOf(CorruptDataError)
    expect((error as CorruptDataError).message).toBe(
      'Stored data of market `m` is corrupt: `products` is not an object',
    )
  })

  it('names the invalid product and every problem it has', async () => {
    const error = await loadError({ ...valid, products: { p1: sample, p2: { ...sample, quantity: -1, price: -2 } } })
    expect(error).toBeInstanceOf(CorruptDataError)
    expect((error as CorruptDataError).message).toBe(
      'Stored data of market `m` is corrupt: product `p2`: Expected `quantity` to be a safe integer >= 0, got `-1`; ' +
        'Expected `price` to be a finite number >= 0, got `-2`',
    )
  })

  it('names a negative revision', async () => {
    const error = await loadError({ ...valid, revision: -1 })
    expect((error as CorruptDataError).message).toBe(
      'Stored data of market `m` is corrupt: revision is not a safe integer >= 0',
    )
  })
})
