import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { MarketCache, PersistenceError, ValidationError } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { loadPg } from '../src/postgres-database/load-pg.js'
import { fromStoredName, toStoredName } from '../src/postgres-database/market-names.js'
import { describePostgres, postgresUrl, usePostgresTables } from './helpers/postgres-tables.js'

const table = usePostgresTables()
const admin = new pg.Pool({ connectionString: postgresUrl, max: 2 })
afterAll(() => admin.end())

describe('PostgresDatabase options', () => {
  it.each([
    ['neither connectionString nor pool', {}],
    ['both connectionString and pool', { connectionString: 'postgres://x', pool: new pg.Pool() }],
    ['a table with a quote', { connectionString: 'postgres://x', table: 'a"b' }],
    ['a table with a semicolon', { connectionString: 'postgres://x', table: 'a; DROP TABLE b' }],
    ['a table with three parts', { connectionString: 'postgres://x', table: 'a.b.c' }],
    ['a table starting with a digit', { connectionString: 'postgres://x', table: '1abc' }],
    ['an empty table', { connectionString: 'postgres://x', table: '' }],
    ['a table over 63 bytes', { connectionString: 'postgres://x', table: 'a'.repeat(64) }],
    ['max with a pool of your own', { pool: new pg.Pool(), max: 3 }],
    ['a zero query timeout', { connectionString: 'postgres://x', queryTimeoutMs: 0 }],
    ['an unknown key', { connectionString: 'postgres://x', tabel: 'x' }],
    // pg would refuse these only at the first connection, leaving a pool whose end() never resolves.
    ['a port pg cannot parse', { connectionString: 'postgres://127.0.0.1/db?port=abc' }],
    ['a port out of range', { connectionString: 'postgres://127.0.0.1/db?port=70000' }],
    ['a URL pg cannot parse', { connectionString: 'postgres://u:pw@127.0.0.1:99999/db' }],
  ])('rejects %s with ValidationError', (_, options) => {
    expect(() => new PostgresDatabase(options as never)).toThrow(ValidationError)
  })

  it('never echoes a connectionString it refuses, which may hold a password', () => {
    expect(() => new PostgresDatabase({ connectionString: 'postgres://u:s3cret@127.0.0.1:99999/db' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
    )
  })

  it('accepts a libpq-style URL whose host is in the query (a Unix socket)', () => {
    expect(() => new PostgresDatabase({ connectionString: 'postgres://u@/db?host=/var/run/postgresql' })).not.toThrow()
  })

  it('accepts schema.table and $ in identifiers', () => {
    expect(() => new PostgresDatabase({ connectionString: 'postgres://x', table: 'stock.markets$2' })).not.toThrow()
  })

  it('says npm install pg when pg cannot be resolved', () => {
    const missing = Object.assign(new Error("Cannot find module 'pg'"), { code: 'MODULE_NOT_FOUND' })
    expect(() =>
      loadPg(() => {
        throw missing
      }),
    ).toThrow(/npm install pg/)
    const other = new Error('broken pg')
    expect(() =>
      loadPg(() => {
        throw other
      }),
    ).toThrow(other)
  })

  it('fails to import market-system/postgres in a process where pg cannot be resolved, saying npm install pg, while the main entry loads', () => {
    const entry = fileURLToPath(new URL('../src/postgres.ts', import.meta.url))
    const mainEntry = fileURLToPath(new URL('../src/index.ts', import.meta.url))
    const hidePg = `
      import Module from 'node:module'
      const resolve = Module._resolveFilename
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'pg') throw Object.assign(new Error("Cannot find module 'pg'"), { code: 'MODULE_NOT_FOUND' })
        return resolve.call(this, request, ...rest)
      }
      const main = await import(${JSON.stringify(mainEntry)})
      console.log('main entry', typeof main.MarketCache.start)
      try { await import(${JSON.stringify(entry)}); console.log('imported') } catch (error) { console.log(error.message) }
    `
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', hidePg], {
      encoding: 'utf8',
    })
    // The main entry never loads pg.
    expect(output).toContain('main entry function')
    expect(output).toMatch(/npm install pg/)
    expect(output).not.toMatch(/imported/)
  })

  it('maps every market name to a distinct stored name and back', () => {
    const names = [
      'plain',
      '\ud800',
      '\udc00',
      '\ud800\udc00',
      '\uffff',
      '\uffffD800',
      'a\ud800b\uffff',
      '\udc00\ud800',
    ]
    const stored = names.map(toStoredName)
    expect(new Set(stored).size).toBe(names.length)
    expect(stored.map(fromStoredName)).toEqual(names)
    // Well-formed UTF-16 survives UTF-8 encoding, which is how pg sends it.
    for (const name of stored) expect(Buffer.from(name, 'utf8').toString('utf8')).toBe(name)
    expect(toStoredName("Bob's list 🍎")).toBe("Bob's list 🍎")
  })
})

describePostgres('PostgresDatabase open and close', () => {
  it('creates the table once when many instances open at once', async () => {
    // Several rounds on fresh tables: the catalog race of concurrent CREATE TABLE IF NOT EXISTS is not every time.
    for (let round = 0; round < 5; round++) {
      const name = await table()
      const databases = Array.from(
        { length: 8 },
        () => new PostgresDatabase({ connectionString: postgresUrl, table: name }),
      )
      await Promise.all(databases.map((database) => database.open()))
      await Promise.all(databases.map((database) => database.open()))
      const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_class WHERE oid = to_regclass($1)', [name])
      expect(rows[0].n).toBe(1)
      await Promise.all(databases.map((database) => database.close()))
    }
  })

  it.each([
    [
      'jsonb instead of json',
      'name text PRIMARY KEY, revision bigint NOT NULL, snapshot jsonb NOT NULL, updated_at timestamptz NOT NULL',
      /`snapshot` is `jsonb`, expected `json`/,
    ],
    [
      'no primary key',
      'name text NOT NULL, revision bigint NOT NULL, snapshot json NOT NULL, updated_at timestamptz NOT NULL',
      /`name` is not its primary key/,
    ],
    [
      'a missing column',
      'name text PRIMARY KEY, revision bigint NOT NULL, snapshot json NOT NULL',
      /`updated_at` is missing/,
    ],
    [
      'a nullable revision',
      'name text PRIMARY KEY, revision bigint, snapshot json NOT NULL, updated_at timestamptz NOT NULL',
      /`revision` allows null/,
    ],
  ])('refuses to start on a table with %s, naming the table', async (_, columns, problem) => {
    const name = await table()
    await admin.query(`CREATE TABLE ${name} (${columns})`)
    const start = MarketCache.start({ database: new PostgresDatabase({ connectionString: postgresUrl, table: name }) })
    const error = await start.catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(PersistenceError)
    const [schema, relname] = name.split('.')
    expect((error as Error).message).toContain(`Table "${schema}"."${relname}"`)
    expect((error as Error).message).toMatch(problem)
  })

  it('refuses to start on a view of the same name', async () => {
    const name = await table()
    await admin.query(
      `CREATE VIEW ${name} AS SELECT 'm'::text AS name, 1::bigint AS revision, '{}'::json AS snapshot, now() AS updated_at`,
    )
    const database = new PostgresDatabase({ connectionString: postgresUrl, table: name })
    await expect(database.open()).rejects.toThrow(/it is not a table/)
    // A failed open is tried again by the next call, not remembered.
    await admin.query(`DROP VIEW ${name}`)
    await database.open()
    expect(await database.markets()).toEqual([])
    await database.close()
  })

  it('leaves a pool you own open, without its error listener, after close', async () => {
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 })
    const listeners = pool.listenerCount('error')
    const database = new PostgresDatabase({ pool, table: await table() })
    expect(pool.listenerCount('error')).toBe(listeners + 1)
    await database.store('m', { format: 1, market: 'm', revision: 1, products: {} })
    await database.close()
    await database.close()
    expect(pool.listenerCount('error')).toBe(listeners)
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await pool.end()
  })

  it('rejects calls after close with ClosedError', async () => {
    const database = new PostgresDatabase({ connectionString: postgresUrl, table: await table() })
    await database.open()
    await database.close()
    await expect(database.get('m')).rejects.toMatchObject({ code: 'CLOSED' })
    await expect(database.open()).rejects.toMatchObject({ code: 'CLOSED' })
    await expect(database.storeIf('m', {}, 0)).rejects.toMatchObject({ code: 'CLOSED' })
  })
})
