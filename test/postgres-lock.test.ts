// PostgresDatabase.lock: what the actor relies on to let an instance that keeps losing conflicts take its turn.
import { afterEach, expect, it } from 'vitest'
import { MarketCache } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { describePostgres, postgresUrl, usePostgresTables } from './helpers/postgres-tables.js'
import { sample } from './helpers/temp-dir.js'

const table = usePostgresTables()
const databases: PostgresDatabase[] = []
afterEach(async () => {
  await Promise.all(databases.splice(0).map((database) => database.close()))
})

async function open(name: string) {
  const database = new PostgresDatabase({ connectionString: postgresUrl, table: name })
  databases.push(database)
  await database.open()
  return database
}

const snapshot = (revision: number, quantity: number) => ({
  format: 1,
  market: 'm',
  revision,
  products: { a: { ...sample, quantity } },
})

describePostgres('PostgresDatabase.lock', () => {
  it('makes another instance’s conditional store wait for the lock, then find the newer revision', async () => {
    const name = await table()
    const [a, b] = [await open(name), await open(name)]
    await a.store('m', snapshot(1, 10))
    const lock = await a.lock('m')
    expect(await lock.get()).toEqual(snapshot(1, 10))
    let settled = false
    const competing = b.storeIf('m', snapshot(2, 1), 1).finally(() => {
      settled = true
    })
    // The competing statement is queued behind the row lock: a revision check (no lock) still answers.
    expect(await b.revisions(['m'])).toEqual(new Map([['m', 1]]))
    expect(settled).toBe(false)
    expect(await lock.storeIf(snapshot(2, 9), 1)).toBe(true)
    expect(await competing).toBe(false)
    expect(await b.get('m')).toEqual(snapshot(2, 9))
  })

  it('lets other instances store again once a lock is released without storing', async () => {
    const name = await table()
    const [a, b] = [await open(name), await open(name)]
    await a.store('m', snapshot(1, 10))
    const lock = await a.lock('m')
    await lock.get()
    const competing = b.storeIf('m', snapshot(2, 7), 1)
    await lock.release()
    expect(await competing).toBe(true)
    expect(await a.get('m')).toEqual(snapshot(2, 7))
  })

  it('ends the lock of a holder that stays idle longer than queryTimeoutMs, so the others store again', async () => {
    const name = await table()
    const frozen = new PostgresDatabase({ connectionString: postgresUrl, table: name, queryTimeoutMs: 300 })
    databases.push(frozen)
    const b = await open(name)
    await b.store('m', snapshot(1, 10))
    const lock = await frozen.lock('m')
    await lock.get()
    // The holder sends nothing more, as a frozen process would; the server ends its transaction.
    expect(await b.storeIf('m', snapshot(2, 4), 1)).toBe(true)
    await expect(lock.storeIf(snapshot(2, 9), 1)).rejects.toThrow()
    expect(await b.get('m')).toEqual(snapshot(2, 4))
  })

  it('serializes two lockers of a market that has no row yet', async () => {
    const name = await table()
    const [a, b] = [await open(name), await open(name)]
    const first = await a.lock('m')
    expect(await first.get()).toBeUndefined()
    let secondTaken = false
    const second = b.lock('m').then((lock) => {
      secondTaken = true
      return lock
    })
    expect(await a.revisions(['m'])).toEqual(new Map())
    expect(secondTaken).toBe(false)
    expect(await first.storeIf(snapshot(1, 3), 0)).toBe(true)
    const lock = await second
    expect(await lock.get()).toEqual(snapshot(1, 3))
    expect(await lock.storeIf(snapshot(2, 2), 1)).toBe(true)
  })

  it('sells exactly the stock through three caches hammering one product, with no conflict reaching a caller', async () => {
    const name = await table()
    const caches = await Promise.all([0, 1, 2].map(async () => MarketCache.start({ database: await open(name) })))
    const id = await (caches[0] as MarketCache).market('m').addProduct({ ...sample, quantity: 150 })
    const errors: unknown[] = []
    let sold = 0
    await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const stock = (caches[i % 3] as MarketCache).market('m')
        for (;;) {
          try {
            await stock.adjustQuantity(id, -1)
            sold++
          } catch (error) {
            if ((error as { code?: string }).code !== 'INSUFFICIENT_STOCK') errors.push(error)
            return
          }
        }
      }),
    )
    await Promise.all(caches.map((cache) => cache.close()))
    expect(errors).toEqual([])
    expect(sold).toBe(150)
  })
})
