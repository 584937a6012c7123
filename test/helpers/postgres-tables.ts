import pg from 'pg'
import { afterAll, describe, inject } from 'vitest'

/** The shared test server's URL ('' when the PostgreSQL suites are skipped). */
export const postgresUrl = inject('postgresUrl')

/** `describe` that skips (the global setup already said why) when there is no server. */
export const describePostgres = postgresUrl ? describe : describe.skip

let schemas = 0

/**
 * Table names in a schema of this test file's own, dropped after the file: files stay independent of one
 * another and of whatever else lives on a server given by MARKET_SYSTEM_PG_URL.
 */
export function usePostgresTables(url = postgresUrl): () => Promise<string> {
  const schema = `market_system_test_${process.pid}_${Date.now().toString(36)}_${schemas++}`
  let created: Promise<void> | undefined
  let tables = 0
  afterAll(async () => {
    if (!created) return
    const client = new pg.Client(url)
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await client.end()
  })
  return async () => {
    created ??= (async () => {
      const client = new pg.Client(url)
      await client.connect()
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      await client.end()
    })()
    await created
    return `${schema}.t${tables++}`
  }
}
