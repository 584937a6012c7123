// Two instances (two caches, each on its own PostgresDatabase) on one table: the guarantees across instances.
import pg from 'pg'
import { afterAll, afterEach, expect, it } from 'vitest'
import {
  type ChangeEvent,
  ConflictError,
  InsufficientStockError,
  MarketCache,
  type MarketCacheOptions,
  type Product,
  ProductNotFoundError,
} from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { describePostgres, postgresUrl, usePostgresTables } from './helpers/postgres-tables.js'
import { sample } from './helpers/temp-dir.js'

const table = usePostgresTables()
const admin = new pg.Pool({ connectionString: postgresUrl, max: 2 })
afterAll(() => admin.end())

const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

/** Two caches on one fresh table, each with a PostgresDatabase of its own. */
async function twoInstances(
  options: Omit<MarketCacheOptions, 'database'> = {},
): Promise<[MarketCache, MarketCache, string]> {
  const name = await table()
  const [a, b] = await Promise.all(
    [0, 1].map(() =>
      MarketCache.start({ ...options, database: new PostgresDatabase({ connectionString: postgresUrl, table: name }) }),
    ),
  )
  caches.push(a as MarketCache, b as MarketCache)
  return [a as MarketCache, b as MarketCache, name]
}

async function stored(name: string, market: string): Promise<{ revision: number; products: Record<string, Product> }> {
  const { rows } = await admin.query(`SELECT revision, snapshot::text AS s FROM ${name} WHERE name = $1`, [market])
  const snapshot = JSON.parse(rows[0].s)
  expect(Number(rows[0].revision)).toBe(snapshot.revision)
  return snapshot
}

describePostgres('Two instances on one PostgreSQL', () => {
  it('sells exactly the stock through both instances: 1 000 one-unit sales of 500, never a conflict seen', async () => {
    const [a, b, name] = await twoInstances()
    const id = await a.market('m').addProduct({ ...sample, quantity: 500 })
    const events: ChangeEvent[][] = [[], []]
    a.on('change', (event) => events[0]?.push(event))
    b.on('change', (event) => events[1]?.push(event))
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? a : b).market('m').adjustQuantity(id, -1)),
    )
    const sold = results.filter((result) => result.status === 'fulfilled')
    expect(sold).toHaveLength(500)
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(InsufficientStockError)
    }
    const snapshot = await stored(name, 'm')
    expect(snapshot.products[id]?.quantity).toBe(0)
    expect(snapshot.revision).toBe(501)
    // Each instance's events in increasing revision order, and together exactly the revisions 2..501:
    // no revision claimed twice (a lost update would), none acknowledged that is not in the stored history.
    for (const list of events) {
      for (let i = 1; i < list.length; i++)
        expect((list[i] as ChangeEvent).revision).toBeGreaterThan((list[i - 1] as ChangeEvent).revision)
    }
    const revisions = [...(events[0] ?? []), ...(events[1] ?? [])].map((event) => event.revision).sort((x, y) => x - y)
    expect(revisions).toEqual(Array.from({ length: 500 }, (_, i) => i + 2))
    expect(await b.market('m').getProduct(id)).toEqual({ ...sample, quantity: 0 })
  })

  it('is linearizable: a call through either instance sees every change acknowledged before it', async () => {
    const [a, b] = await twoInstances()
    const model = new Map<string, Product>()
    // B has the market loaded before A changes it.
    expect(await b.market('m').listProducts()).toEqual([])
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    for (let step = 0; step < 300; step++) {
      const via = random(2) === 0 ? a : b
      const other = via === a ? b : a
      const market = via.market('m')
      const ids = [...model.keys()]
      const id = ids.length > 0 ? (ids[random(ids.length)] as string) : 'none'
      const kind = ids.length === 0 ? 0 : random(4)
      if (kind === 0) {
        const product = { ...sample, name: `p${step}`, quantity: random(5) }
        model.set(await market.addProduct(product), product)
      } else if (kind === 1) {
        const product = { ...sample, name: `u${step}`, quantity: random(9) }
        await market.updateProduct(id, product)
        model.set(id, product)
      } else if (kind === 2) {
        expect(await market.deleteProduct(id)).toBe(true)
        model.delete(id)
      } else {
        const current = model.get(id) as Product
        const delta = random(5) - 3
        if (current.quantity + delta < 0) {
          await expect(market.adjustQuantity(id, delta)).rejects.toBeInstanceOf(InsufficientStockError)
        } else {
          expect(await market.adjustQuantity(id, delta)).toBe(current.quantity + delta)
          model.set(id, { ...current, quantity: current.quantity + delta })
        }
      }
      // The other instance, called after the promise above resolved, sees the change.
      if (kind === 2) expect(await other.market('m').getProduct(id)).toBeUndefined()
      else if (step % 3 === 0) {
        expect(await other.market('m').listProducts()).toEqual(
          [...model].map(([key, product]) => ({ id: key, ...product })),
        )
      } else if (model.size > 0) {
        const [key, product] = [...model][random(model.size)] as [string, Product]
        expect(await other.market('m').getProduct(key)).toEqual(product)
      }
    }
    await expect(b.market('m').updateProduct('none', sample)).rejects.toBeInstanceOf(ProductNotFoundError)
  })

  it('lets no caller see ConflictError when both instances burst on one market (default bound)', async () => {
    const [a, b, name] = await twoInstances()
    const results = await Promise.allSettled(
      Array.from({ length: 400 }, (_, i) =>
        (i % 2 === 0 ? a : b).market('hot').addProduct({ ...sample, name: `n${i}`, quantity: i }),
      ),
    )
    expect(results.filter((result) => result.status === 'rejected')).toEqual([])
    const snapshot = await stored(name, 'hot')
    expect(Object.keys(snapshot.products).sort()).toEqual(
      results.map((result) => (result as PromiseFulfilledResult<string>).value).sort(),
    )
    expect(snapshot.revision).toBe(400)
  })

  it('rejects the waiting calls with ConflictError after maxConflicts conflicts in a row, storing nothing of theirs', async () => {
    const [a, b, name] = await twoInstances({ maxConflicts: 1 })
    const id = await a.market('m').addProduct({ ...sample, quantity: 10 })
    expect(await b.market('m').getProduct(id)).toEqual({ ...sample, quantity: 10 })
    // A stores revision 2 behind B's back; B's next change was computed on revision 1: a conflict.
    await a.market('m').adjustQuantity(id, -1)
    const before = await stored(name, 'm')
    const error = await b
      .market('m')
      .adjustQuantity(id, -5)
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConflictError)
    expect(error).toMatchObject({ code: 'CONFLICT', market: 'm', attempts: 1 })
    expect(await stored(name, 'm')).toEqual(before)
    // The market reloaded: the next call through B works on the stored state.
    expect(await b.market('m').adjustQuantity(id, -5)).toBe(4)
  })
})
