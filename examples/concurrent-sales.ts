// Black Friday: hundreds of shoppers hit the same few products at once. The market's actor applies
// every sale one at a time, so stock never goes below zero, and every acknowledged sale is on disk.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InsufficientStockError, MarketCache } from '../src/index.js'

const SHOPPERS = 600
const stock = [
  { name: 'television', quantity: 250, expirationDate: '2030-12-31', price: 499 },
  { name: 'headphones', quantity: 600, expirationDate: '2030-12-31', price: 59.9 },
  { name: 'console', quantity: 300, expirationDate: '2030-12-31', price: 399 },
]

// A seeded generator, so every run tells the same story and the totals below can be checked.
let seed = 42
const random = (below: number) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return (seed >>> 16) % below
}

const dir = await mkdtemp(join(tmpdir(), 'market-system-sales-'))
try {
  let cache = await MarketCache.start({ dataDir: dir })
  const shop = cache.market('electronics')
  const ids = await Promise.all(stock.map((product) => shop.addProduct(product)))

  const orders = Array.from({ length: SHOPPERS }, () => ({ product: random(ids.length), amount: 1 + random(3) }))
  const sold = ids.map(() => 0)
  let refused = 0
  // Every shopper starts before any has finished: the calls overlap in the actor's mailbox.
  await Promise.all(
    orders.map(async ({ product, amount }) => {
      try {
        await shop.adjustQuantity(ids[product] as string, -amount)
        sold[product] = (sold[product] ?? 0) + amount
      } catch (error) {
        if (!(error instanceof InsufficientStockError)) throw error
        refused += 1
      }
    }),
  )
  console.log(`${SHOPPERS} shoppers, ${SHOPPERS - refused} sales, ${refused} refused for lack of stock`)

  // Restart from disk: what survives is exactly what was acknowledged.
  await cache.close()
  cache = await MarketCache.start({ dataDir: dir })
  const after = await cache.market('electronics').listProducts()
  for (const [index, product] of stock.entries()) {
    const left = after.find((item) => item.id === ids[index])?.quantity
    const expected = product.quantity - (sold[index] ?? 0)
    console.log(`${product.name.padEnd(10)} started ${product.quantity}, sold ${sold[index]}, left ${left} on disk`)
    if (left !== expected || expected < 0) throw new Error(`${product.name}: expected ${expected} left, found ${left}`)
  }
  const revenue = stock.reduce((sum, product, index) => sum + product.price * (sold[index] ?? 0), 0)
  console.log(`revenue ${revenue.toFixed(2)}; no oversell, every sale durable`)
  await cache.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}
