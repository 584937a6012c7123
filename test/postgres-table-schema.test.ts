// The table PostgresDatabase opens on: created when missing, refused (naming every problem) when its shape is wrong,
// and the server's own error when it cannot be created.
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { PostgresDatabase } from '../src/postgres.js'
import type { Query } from '../src/postgres-database/bounded-query.js'
import { ensureTable } from '../src/postgres-database/table-schema.js'
import { describePostgres, postgresUrl, usePostgresTables } from './helpers/postgres-tables.js'

const table = usePostgresTables()
const admin = new pg.Pool({ connectionString: postgresUrl, max: 2 })
afterAll(() => admin.end())

const quoted = (name: string) =>
  name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.')

/** `ensureTable`'s statements, run by the admin pool, each first shown to `before` (which may throw instead). */
const queryVia =
  (before: (text: string) => Promise<void> | void = () => {}): Query =>
  async (text, values) => {
    await before(text)
    return admin.query(text, values)
  }

describePostgres('the table PostgresDatabase opens on', () => {
  it('refuses a table without columns, listing every problem', async () => {
    const name = await table()
    await admin.query(`CREATE TABLE ${name} ()`)
    const database = new PostgresDatabase({ connectionString: postgresUrl, table: name })
    try {
      await expect(database.open()).rejects.toThrow(
        `Table ${quoted(name)} does not have the shape market-system stores markets in: column \`name\` is missing; column \`revision\` is missing; column \`snapshot\` is missing; column \`updated_at\` is missing; column \`name\` is not its primary key. Expected (name text primary key, revision bigint not null, snapshot json not null, updated_at timestamptz not null)`,
      )
    } finally {
      await database.close()
    }
  })

  it('opens on a partitioned table of the right shape, and stores in it', async () => {
    const name = await table()
    await admin.query(
      `CREATE TABLE ${name} (name text PRIMARY KEY, revision bigint NOT NULL, snapshot json NOT NULL, updated_at timestamptz NOT NULL) PARTITION BY HASH (name)`,
    )
    await admin.query(`CREATE TABLE ${name}_p0 PARTITION OF ${name} FOR VALUES WITH (MODULUS 1, REMAINDER 0)`)
    const database = new PostgresDatabase({ connectionString: postgresUrl, table: name })
    try {
      await database.open()
      const snapshot = { format: 1, market: 'm', revision: 1, products: {} }
      expect(await database.storeIf('m', snapshot, 0)).toBe(true)
      expect(await database.get('m')).toEqual(snapshot)
    } finally {
      await database.close()
    }
  })

  it('rejects with the server’s error when the schema does not exist', async () => {
    const database = new PostgresDatabase({
      connectionString: postgresUrl,
      table: `no_such_schema_${process.pid}.markets`,
    })
    try {
      await expect(database.open()).rejects.toMatchObject({ code: '3F000' })
    } finally {
      await database.close()
    }
  })

  it.each([
    ['23505', 'unique_violation'],
    ['42P07', 'duplicate_table'],
    ['42710', 'duplicate_object'],
  ])('goes on to check the table when its CREATE loses a race to another instance (%s, %s)', async (code) => {
    const name = await table()
    const located = await ensureTable(
      queryVia(async (text) => {
        if (!text.startsWith('CREATE TABLE')) return
        // The other instance's CREATE wins; ours fails as it does in the catalog race.
        await admin.query(text)
        throw Object.assign(new Error('lost the race'), { code })
      }),
      quoted(name),
    )
    expect(located).toBe(quoted(name))
  })

  it('rejects with any other error of CREATE TABLE, such as a missing privilege', async () => {
    const name = await table()
    const denied = Object.assign(new Error('permission denied for schema'), { code: '42501' })
    await expect(
      ensureTable(
        queryVia((text) => {
          if (text.startsWith('CREATE TABLE')) throw denied
        }),
        quoted(name),
      ),
    ).rejects.toBe(denied)
    const plain = new Error('Connection terminated')
    await expect(
      ensureTable(
        queryVia((text) => {
          if (text.startsWith('CREATE TABLE')) throw plain
        }),
        quoted(name),
      ),
    ).rejects.toBe(plain)
  })

  it('says the table was not found when it is dropped right after being created', async () => {
    const name = await table()
    await expect(
      ensureTable(
        queryVia(async (text) => {
          if (text.startsWith('SELECT')) await admin.query(`DROP TABLE IF EXISTS ${name}`)
        }),
        quoted(name),
      ),
    ).rejects.toThrow(`Table ${quoted(name)} was not found after creating it`)
  })
})
