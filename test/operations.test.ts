import { afterEach, describe, expect, it } from 'vitest'
import { type ChangeEvent, MarketCache, ValidationError } from '../src/index.js'
import { MemoryDatabase } from './helpers/memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

async function start() {
  const cache = await MarketCache.start({ database: new MemoryDatabase() })
  caches.push(cache)
  return cache
}

describe('change events', () => {
  it('announce each kind of change with its operation, product id and revision', async () => {
    const cache = await start()
    const changes: ChangeEvent[] = []
    cache.on('change', (event) => changes.push(event))
    const stock = cache.market('m')
    const id = await stock.addProduct(sample)
    await stock.updateProduct(id, { ...sample, name: 'renamed' })
    await stock.adjustQuantity(id, -2)
    await stock.adjustQuantity(id, 0)
    await stock.deleteProduct(id)
    await stock.deleteProduct(id)
    expect(changes).toEqual([
      { market: 'm', revision: 1, operation: 'add', productId: id },
      { market: 'm', revision: 2, operation: 'update', productId: id },
      { market: 'm', revision: 3, operation: 'adjust', productId: id },
      { market: 'm', revision: 4, operation: 'delete', productId: id },
    ])
  })
})

describe('adjustQuantity', () => {
  it('names the product and the sum when the new quantity would pass Number.MAX_SAFE_INTEGER', async () => {
    const stock = (await start()).market('m')
    const id = await stock.addProduct({ ...sample, quantity: Number.MAX_SAFE_INTEGER - 1 })
    const error = await stock.adjustQuantity(id, 2).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).message).toBe(
      `Expected \`quantity\` to stay a safe integer, got \`9007199254740990 + 2\` for product \`${id}\``,
    )
    expect(await stock.adjustQuantity(id, 1)).toBe(Number.MAX_SAFE_INTEGER)
  })
})
