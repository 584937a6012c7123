import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { CorruptDataError, MarketCache } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { describeDatabase } from './helpers/describe-database.js'
import { describePostgres, postgresUrl, usePostgresTables } from './helpers/postgres-tables.js'
import { sample } from './helpers/temp-dir.js'

const table = usePostgresTables()
const admin = new pg.Pool({ connectionString: postgresUrl, max: 2 })
afterAll(() => admin.end())

const snapshot = (market: string, revision: number, products: Record<string, unknown> = {}) => ({
  format: 1,
  market,
  revision,
  products,
})

if (postgresUrl) {
  describeDatabase(
    'PostgresDatabase',
    async () => new PostgresDatabase({ connectionString: postgresUrl, table: await table() }),
  )
}

describePostgres('PostgresDatabase', () => {
  it('stores and lists hostile market names exactly, as data', async () => {
    const database = new PostgresDatabase({ connectionString: postgresUrl, table: await table() })
    const names = [
      "Bob's list",
      "'; DROP TABLE market_system_markets; --",
      '"quoted" \\ back',
      '🍎 emoji',
      'lone \ud800 high',
      'lone \udc00 low',
      '\uffff escape char',
      '\uffffD800 looks escaped',
      'pair 😀 intact',
      '$1',
    ]
    for (const [i, market] of names.entries()) await database.store(market, snapshot(market, i + 1))
    expect((await database.markets()).sort()).toEqual([...names].sort())
    for (const [i, market] of names.entries()) expect(await database.get(market)).toEqual(snapshot(market, i + 1))
    const revisions = await database.revisions(names)
    expect([...revisions.entries()].sort()).toEqual(names.map((market, i) => [market, i + 1]).sort())
    await database.close()
  })

  it('resolves storeIf true only when the stored revision is the expected one, writing nothing otherwise', async () => {
    const database = new PostgresDatabase({ connectionString: postgresUrl, table: await table() })
    expect(await database.storeIf('m', snapshot('m', 1), 1)).toBe(false)
    expect(await database.markets()).toEqual([])
    expect(await database.storeIf('m', snapshot('m', 1), 0)).toBe(true)
    expect(await database.storeIf('m', snapshot('m', 2, { stale: sample }), 0)).toBe(false)
    expect(await database.storeIf('m', snapshot('m', 3), 2)).toBe(false)
    expect(await database.storeIf('m', snapshot('m', 3), 1)).toBe(true)
    expect(await database.get('m')).toEqual(snapshot('m', 3))
    expect(await database.revisions(['m', 'absent'])).toEqual(new Map([['m', 3]]))
    expect(await database.revisions([])).toEqual(new Map())
    await database.close()
  })

  it('lets exactly one of many racing conditional stores of one revision win', async () => {
    const name = await table()
    const databases = Array.from(
      { length: 4 },
      () => new PostgresDatabase({ connectionString: postgresUrl, table: name }),
    )
    for (const expected of [0, 1, 2]) {
      const results = await Promise.all(
        databases.flatMap((database, i) =>
          [0, 1].map((j) => database.storeIf('m', snapshot('m', expected + 1, { [`w${i}${j}`]: sample }), expected)),
        ),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      const winner = results.indexOf(true)
      expect(await databases[0]?.get('m')).toEqual(
        snapshot('m', expected + 1, { [`w${Math.floor(winner / 2)}${winner % 2}`]: sample }),
      )
    }
    await Promise.all(databases.map((database) => database.close()))
  })

  it('stores a market whose row holds revision 0 when 0 is expected', async () => {
    const database = new PostgresDatabase({ connectionString: postgresUrl, table: await table() })
    await database.store('m', snapshot('m', 0))
    expect(await database.storeIf('m', snapshot('m', 1), 0)).toBe(true)
    expect(await database.get('m')).toEqual(snapshot('m', 1))
    await database.close()
  })

  it('lists products in insertion order through a fresh instance, updates keeping their place', async () => {
    const name = await table()
    const first = await MarketCache.start({
      database: new PostgresDatabase({ connectionString: postgresUrl, table: name }),
    })
    const market = first.market('ordered')
    const ids: string[] = []
    for (const label of ['zebra', 'apple', 'mango', 'banana', '10', '2']) {
      ids.push(await market.addProduct({ ...sample, name: label }))
    }
    await market.updateProduct(ids[1] as string, { ...sample, name: 'apple', quantity: 99 })
    await market.deleteProduct(ids[3] as string)
    await first.close()
    const second = await MarketCache.start({
      database: new PostgresDatabase({ connectionString: postgresUrl, table: name }),
    })
    const listed = await second.market('ordered').listProducts()
    expect(listed.map((item) => item.name)).toEqual(['zebra', 'apple', 'mango', '10', '2'])
    expect(listed[1]?.quantity).toBe(99)
    await second.close()
  })

  it.each([
    ['a snapshot of another market', `'{"format":1,"market":"other","revision":1,"products":{}}'`, 1],
    ['an invalid product', `'{"format":1,"market":"m","revision":1,"products":{"a":{"name":"x","quantity":-1}}}'`, 1],
    ['a revision column that disagrees with the snapshot', `'{"format":1,"market":"m","revision":1,"products":{}}'`, 7],
    ['a JSON array', `'[1, 2]'`, 1],
  ])(
    'rejects calls on %s with CorruptDataError naming the row, leaving it byte for byte',
    async (_, json, revision) => {
      const name = await table()
      const database = new PostgresDatabase({ connectionString: postgresUrl, table: name })
      await database.open()
      await admin.query(`INSERT INTO ${name} VALUES ('m', ${revision}, ${json}, now())`)
      const before = await admin.query(`SELECT revision, snapshot::text, updated_at FROM ${name} WHERE name = 'm'`)
      const cache = await MarketCache.start({ database })
      const error = await cache
        .market('m')
        .addProduct(sample)
        .catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(CorruptDataError)
      const schemaName = name.split('.')[0]
      expect((error as CorruptDataError).location).toBe(`table "${schemaName}"."${name.split('.')[1]}", row \`m\``)
      await expect(cache.market('m').listProducts()).rejects.toBeInstanceOf(CorruptDataError)
      await cache.market('fine').addProduct(sample)
      await cache.close()
      const after = await admin.query(`SELECT revision, snapshot::text, updated_at FROM ${name} WHERE name = 'm'`)
      expect(after.rows).toEqual(before.rows)
    },
  )
})
