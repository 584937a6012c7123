import type { MarketCache } from '../../src/index.js'

/** Today plus `offset` days, as `YYYY-MM-DD` in local time (the studio's "today"). */
export function day(offset: number): string {
  const date = new Date()
  date.setDate(date.getDate() + offset)
  const pad = (value: number) => String(value).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
}

/**
 * A small shop: Bob's list has one expired product, one expiring in 2 days (and low on stock), one fresh;
 * Anna has one fresh product. Resolves to the ids by product name.
 */
export async function seedShop(cache: MarketCache): Promise<Record<string, string>> {
  const bobs = cache.market("Bob's list")
  return {
    linguissa: await bobs.addProduct({ name: 'linguissa', quantity: 5, expirationDate: '2000-01-01', price: 23.45 }),
    milk: await bobs.addProduct({ name: 'milk', quantity: 12, expirationDate: day(30), price: 1.5 }),
    bread: await bobs.addProduct({ name: 'bread', quantity: 2, expirationDate: day(2), price: 3 }),
    tea: await cache.market('Anna').addProduct({ name: 'tea', quantity: 40, expirationDate: day(100), price: 4 }),
  }
}
