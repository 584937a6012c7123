// How market names land in the `name` column: as typed, except the code units PostgreSQL text cannot hold.
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { PostgresDatabase } from '../src/postgres.js'
import { describePostgres, postgresUrl, usePostgresTables } from './helpers/postgres-tables.js'

const table = usePostgresTables()
const admin = new pg.Pool({ connectionString: postgresUrl, max: 2 })
afterAll(() => admin.end())

describePostgres('market names in the name column', () => {
  it('stores lone surrogates and U+FFFF as U+FFFF and four uppercase hex digits, every other name as it is', async () => {
    const name = await table()
    const database = new PostgresDatabase({ connectionString: postgresUrl, table: name })
    try {
      const markets: [string, string][] = [
        ["Bob's list 🍎", "Bob's list 🍎"],
        ['high \ud800', 'high \uffffD800'],
        ['low \udfff', 'low \uffffDFFF'],
        ['escape \uffff', 'escape \uffffFFFF'],
        ['reversed \udc00\ud8ab', 'reversed \uffffDC00\uffffD8AB'],
      ]
      for (const [market] of markets) await database.store(market, { format: 1, market, revision: 1, products: {} })
      const { rows } = await admin.query(`SELECT name FROM ${name}`)
      expect(rows.map((row) => row.name).sort()).toEqual(markets.map(([, stored]) => stored).sort())
      // Listed as they were given.
      expect((await database.markets()).sort()).toEqual(markets.map(([market]) => market).sort())
    } finally {
      await database.close()
    }
  })
})
