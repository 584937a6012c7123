// What the PostgresDatabase constructor accepts and the exact errors it gives for what it refuses: no server needed.
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { ClosedError, ValidationError } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { loadPg } from '../src/postgres-database/load-pg.js'

/** The error the constructor throws for `options` (fails the test when it throws none). */
function refusal(options: unknown): ValidationError {
  try {
    new PostgresDatabase(options as never)
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError)
    return error as ValidationError
  }
  throw new Error('expected the constructor to throw')
}

/** A constructed database that never connected; closing it ends its (unused) pool. */
async function constructs(options: unknown): Promise<void> {
  const database = new PostgresDatabase(options as never)
  await database.close()
}

describe('PostgresDatabase options: error messages', () => {
  it('says that exactly one of connectionString and pool is expected, naming the options as a whole', () => {
    expect(refusal({}).message).toBe(
      'Invalid PostgresDatabase options: (options): Expected exactly one of `connectionString` and `pool`',
    )
  })

  it('lists every problem, each with the option it concerns, separated by semicolons', () => {
    const error = refusal({ connectionString: 'postgres://x', table: '1a', max: 0 })
    expect(error.message).toMatch(
      /^Invalid PostgresDatabase options: table: Expected `table` to be an SQL identifier or `schema\.table` \(letters, digits, `_`, `\$`; 63 bytes each\); max: /,
    )
    expect(error.issues.map((issue) => issue.path)).toEqual([['table'], ['max']])
  })

  it('says why max is refused with a pool of your own', () => {
    expect(refusal({ pool: new pg.Pool(), max: 3 }).message).toBe(
      'Invalid PostgresDatabase options: max: `max` sizes the pool created from `connectionString`; size your own `pool` where you create it',
    )
  })

  it('says that a connectionString pg cannot parse is not a URL, with pg’s reason', () => {
    expect(refusal({ connectionString: 'postgres://u:pw@127.0.0.1:99999/db' }).message).toBe(
      'Expected `connectionString` to be a PostgreSQL URL pg can parse: TypeError: Invalid URL',
    )
  })

  it.each([
    ['0', 'postgres://127.0.0.1:0/db'],
    ['65536', 'postgres://127.0.0.1/db?port=65536'],
    ['abc', 'postgres://127.0.0.1/db?port=abc'],
  ])('refuses port %s, saying the range', (_, connectionString) => {
    expect(refusal({ connectionString }).message).toBe(
      'Expected the port of `connectionString` to be an integer from 1 to 65535',
    )
  })
})

describe('PostgresDatabase options: the limits accepted', () => {
  it.each([
    ['port 1', 'postgres://127.0.0.1:1/db'],
    ['port 65535', 'postgres://127.0.0.1:65535/db'],
  ])('accepts %s, the ends of the port range', async (_, connectionString) => {
    await constructs({ connectionString })
  })

  it('accepts a table name of exactly 63 bytes, and a schema of 63 bytes with it', async () => {
    await constructs({ connectionString: 'postgres://x', table: 'a'.repeat(63) })
    await constructs({ connectionString: 'postgres://x', table: `${'s'.repeat(63)}.${'t'.repeat(63)}` })
  })

  it('refuses schema.table when either part is not an identifier', () => {
    expect(refusal({ connectionString: 'postgres://x', table: 'good.1bad' }).issues[0]?.path).toEqual(['table'])
    expect(refusal({ connectionString: 'postgres://x', table: 'bad-.good' }).issues[0]?.path).toEqual(['table'])
    expect(refusal({ connectionString: 'postgres://x', table: `ok.${'t'.repeat(64)}` }).issues[0]?.path).toEqual([
      'table',
    ])
  })

  it('accepts max with a connectionString', async () => {
    await constructs({ connectionString: 'postgres://x', max: 3 })
  })

  it.each([
    ['null', null],
    ['an empty object', {}],
    ['an object with only connect', { connect: () => {} }],
    ['an object whose methods are not functions', { connect: 1, on: 1, removeListener: 1 }],
    [
      'a function that has the methods of a pool',
      Object.assign(() => {}, { connect() {}, on() {}, removeListener() {} }),
    ],
  ])('refuses %s as pool, saying it expects a pg.Pool', (_, pool) => {
    expect(refusal({ pool }).message).toBe('Invalid PostgresDatabase options: pool: Expected `pool` to be a pg.Pool')
  })
})

describe('PostgresDatabase after close', () => {
  it('rejects calls with ClosedError saying the PostgresDatabase is closed', async () => {
    const database = new PostgresDatabase({ connectionString: 'postgres://127.0.0.1:1/db' })
    await database.close()
    const error = await database.markets().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ClosedError)
    expect((error as Error).message).toBe('PostgresDatabase is closed')
    await expect(database.open()).rejects.toThrow('PostgresDatabase is closed')
  })
})

describe('loading pg', () => {
  it('says npm install pg when the ESM resolver cannot find pg either, keeping the resolver’s error as cause', () => {
    for (const code of ['MODULE_NOT_FOUND', 'ERR_MODULE_NOT_FOUND']) {
      const missing = Object.assign(new Error("Cannot find package 'pg'"), { code })
      const error = (() => {
        try {
          loadPg(() => {
            throw missing
          })
        } catch (caught) {
          return caught as Error
        }
        throw new Error('expected loadPg to throw')
      })()
      expect(error.message).toBe(
        'market-system/postgres needs the `pg` package (node-postgres), which is not installed: npm install pg',
      )
      expect(error.cause).toBe(missing)
    }
  })
})
