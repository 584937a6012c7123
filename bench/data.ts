import type { Product } from '../src/product.js'

/** A small, fast, seeded PRNG (mulberry32), so every system sees the same operation stream. */
export function rng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface SeedMarket {
  name: string
  ids: string[]
  products: Product[]
}

/** Quantities start high so random sales never hit `InsufficientStockError`. */
export function product(index: number): Product {
  const day = String((index % 28) + 1).padStart(2, '0')
  const month = String((index % 12) + 1).padStart(2, '0')
  return {
    name: `product ${index} of the benchmark`,
    quantity: 1_000_000 + (index % 97),
    expirationDate: `2027-${month}-${day}`,
    price: Math.round(((index % 500) + 0.99) * 100) / 100,
  }
}

export function seedMarket(name: string, count: number): SeedMarket {
  const ids: string[] = []
  const products: Product[] = []
  for (let i = 0; i < count; i++) {
    // 21 characters, like nanoid, so file sizes match what addProduct produces.
    ids.push(`p${String(i).padStart(20, '0')}`)
    products.push(product(i))
  }
  return { name, ids, products }
}

export const marketName = (index: number) => `market ${index}`

/** The market file body every JSON-file system starts from (market-system's own format). */
export function snapshotJson(market: SeedMarket): string {
  const products: Record<string, Product> = {}
  market.products.forEach((p, i) => {
    products[market.ids[i] as string] = p
  })
  return JSON.stringify({ format: 1, market: market.name, revision: 0, products })
}

export type OpKind = 'adjust' | 'get' | 'add' | 'update'

/** The `concurrent` mix: 60% adjustQuantity, 20% getProduct, 10% addProduct, 10% updateProduct. */
export function pickOp(random: () => number): OpKind {
  const r = random()
  if (r < 0.6) return 'adjust'
  if (r < 0.8) return 'get'
  if (r < 0.9) return 'add'
  return 'update'
}
