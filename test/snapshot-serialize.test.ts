import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Product } from '../src/product.js'
import { type MarketState, serializeSnapshot, toSnapshot } from '../src/snapshot.js'

const product = fc.record({
  name: fc.string({ minLength: 1, maxLength: 20 }),
  quantity: fc.nat(),
  expirationDate: fc.constantFrom('2023-08-08', '2024-02-29'),
  price: fc.double({ min: 0, max: 1e6, noNaN: true }),
})
const id = fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.nat().map(String), fc.constant('__proto__'))

describe('serializeSnapshot', () => {
  it('produces JSON that parses to the snapshot, across changes that reuse cached product text', () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.tuple(id, product), { maxLength: 30 }), (market, changes) => {
        // Texts are cached only from 1000 products on; below that the snapshot is stringified whole.
        const state: MarketState = { revision: 0, products: new Map() }
        for (let i = 0; i < 1000; i++) {
          state.products.set(`seed${i}`, { name: `n${i}`, quantity: i, expirationDate: '2023-08-08', price: i / 7 })
        }
        for (const [key, value] of changes) {
          // The actor replaces product objects, never mutates them: do the same.
          state.products.set(key, { ...value })
          state.revision++
          const snapshot = toSnapshot(market, state)
          const text = serializeSnapshot(snapshot)
          expect(JSON.parse(text)).toStrictEqual(JSON.parse(JSON.stringify(snapshot)))
          // Only the order of integer-like ids may differ (JSON.stringify puts them first).
          if (![...state.products.keys()].some((key) => /^\d+$/.test(key))) expect(text).toBe(JSON.stringify(snapshot))
        }
      }),
      { numRuns: 30 },
    )
  })

  it('moves a product object stored under a new id along with its id', () => {
    const shared: Product = { name: 'a', quantity: 1, expirationDate: '2023-08-08', price: 1 }
    const others = Array.from({ length: 1000 }, (_, i): [string, Product] => [`o${i}`, { ...shared, quantity: i }])
    const first = toSnapshot('m', { revision: 1, products: new Map([['x', shared], ...others]) })
    serializeSnapshot(first)
    const second = toSnapshot('m', { revision: 2, products: new Map([['y', shared], ...others]) })
    expect(serializeSnapshot(second)).toBe(JSON.stringify(second))
  })

  it('stringifies any value it did not build in full', () => {
    const value = { format: 1, market: 'm', revision: 3, products: { a: { name: 'n' } }, extra: [1] }
    expect(serializeSnapshot(value)).toBe(JSON.stringify(value))
  })
})
