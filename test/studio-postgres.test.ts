import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { MarketCache } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { describePostgres, postgresUrl } from './helpers/postgres-tables.js'
import { post, useStudioCli } from './helpers/studio-cli.js'
import { sample } from './helpers/temp-dir.js'

async function query(text: string): Promise<void> {
  const client = new pg.Client(postgresUrl)
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

describePostgres('market-system studio on --database (PostgreSQL)', () => {
  const startStudio = useStudioCli()
  const schema = `market_system_studio_${process.pid}_${Date.now().toString(36)}`
  afterAll(() => query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))

  it("serves the database's markets, shows another instance's change on its next fetch, and stops cleanly", async () => {
    await query(`CREATE SCHEMA ${schema}`)
    // The CLI has no table option: a schema of its own on the search path gives this test its own default table.
    const url = new URL(postgresUrl)
    url.searchParams.set('options', `-c search_path=${schema}`)
    const studio = await startStudio('--database', url.toString())
    expect(studio.output()).toContain('listens on 127.0.0.1 only')
    expect(await post(`${studio.url}api/products?market=Anna`, sample)).toBe(201)
    const other = await MarketCache.start({ database: new PostgresDatabase({ connectionString: url.toString() }) })
    try {
      await other.market('Anna').addProduct({ ...sample, name: 'from another instance' })
      const listed = await (await fetch(`${studio.url}api/products?market=Anna`)).json()
      expect(listed.products.map((product: { name: string }) => product.name)).toEqual([
        sample.name,
        'from another instance',
      ])
      studio.child.kill('SIGINT')
      expect([(await studio.exited)[0], studio.errors()]).toEqual([0, ''])
      expect(await other.market('Anna').listProducts()).toHaveLength(2)
    } finally {
      await other.close()
    }
  })
})
