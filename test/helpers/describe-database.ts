import { describe, expect, it } from 'vitest'
import type { Database } from '../../src/index.js'

const snapshot = (market: string, revision: number, products: Record<string, unknown> = {}) => ({
  format: 1,
  market,
  revision,
  products,
})

const product = { name: 'linguissa', quantity: 5, expirationDate: '2023-08-08', price: 23.45 }

/** The `Database` contract, run against every implementation. */
export function describeDatabase(name: string, create: () => Promise<Database>) {
  describe(`Database contract: ${name}`, () => {
    it('returns undefined for a market never stored', async () => {
      const database = await create()
      await database.open?.()
      expect(await database.get('nobody')).toBeUndefined()
      await database.close()
    })

    it('returns a value equal to the last snapshot stored', async () => {
      const database = await create()
      await database.store('m', snapshot('m', 1, { a: product }))
      await database.store('m', snapshot('m', 2, { a: product, b: { ...product, name: 'b' } }))
      expect(await database.get('m')).toEqual(snapshot('m', 2, { a: product, b: { ...product, name: 'b' } }))
      await database.close()
    })

    it('keeps the newest of many overlapping stores of one market', async () => {
      const database = await create()
      await Promise.all(Array.from({ length: 50 }, (_, i) => database.store('m', snapshot('m', i + 1))))
      expect(await database.get('m')).toEqual(snapshot('m', 50))
      await database.close()
    })

    it('stores markets independently and lists them all', async () => {
      const database = await create()
      const names = ['a', 'B', "Bob's list", '🍎', '../x']
      await Promise.all(names.map((market, i) => database.store(market, snapshot(market, i + 1))))
      expect((await database.markets()).sort()).toEqual([...names].sort())
      for (const [i, market] of names.entries()) expect(await database.get(market)).toEqual(snapshot(market, i + 1))
      await database.close()
    })

    it('finishes stores still queued when closed', async () => {
      const database = await create()
      const stores = Array.from({ length: 20 }, (_, i) => database.store(`m${i % 4}`, snapshot(`m${i % 4}`, i + 1)))
      await database.close()
      await Promise.all(stores)
    })
  })
}
