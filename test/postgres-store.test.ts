// PostgresDatabase's calls on a real server: the default table, the pool it sizes, what it stores for snapshots the
// actor would never write, the errors it passes on, and a market's lock.
import pg from 'pg'
import { afterAll, afterEach, expect, it } from 'vitest'
import { CorruptDataError, type MarketLock } from '../src/index.js'
import { PostgresDatabase, type PostgresDatabaseOptions } from '../src/postgres.js'
import { describePostgres, postgresUrl, usePostgresTables } from './helpers/postgres-tables.js'

const table = usePostgresTables()
const admin = new pg.Pool({ connectionString: postgresUrl, max: 2 })
afterAll(() => admin.end())

const databases: PostgresDatabase[] = []
const locks: MarketLock[] = []
afterEach(async () => {
  // A lock left held (a failed test) would keep its connection, and close() would wait for it.
  await Promise.all(locks.splice(0).map((lock) => lock.release().catch(() => {})))
  await Promise.all(databases.splice(0).map((database) => database.close()))
})

async function lockOf(db: PostgresDatabase, market: string): Promise<MarketLock> {
  const lock = await db.lock(market)
  locks.push(lock)
  return lock
}

function database(options: Partial<PostgresDatabaseOptions> & { table: string }): PostgresDatabase {
  const created = new PostgresDatabase({ connectionString: postgresUrl, ...options })
  databases.push(created)
  return created
}

const snapshot = (market: string, revision: number) => ({ format: 1, market, revision, products: {} })

describePostgres('PostgresDatabase on a real server', () => {
  it('uses the table market_system_markets of the connection’s search_path by default, and locates rows in it', async () => {
    const schema = (await table()).split('.')[0] as string
    const url = new URL(postgresUrl)
    url.searchParams.set('options', `-c search_path=${schema}`)
    const db = new PostgresDatabase({ connectionString: url.href })
    databases.push(db)
    await db.store('Bob', snapshot('Bob', 1))
    expect(db.locate('Bob')).toBe(`table "${schema}"."market_system_markets", row \`Bob\``)
    const { rows } = await admin.query(`SELECT name, revision FROM ${schema}.market_system_markets`)
    expect(rows).toEqual([{ name: 'Bob', revision: '1' }])
  })

  it('locates rows of a schema whose name holds a double quote, quoting it as SQL does', async () => {
    const schema = `${(await table()).split('.')[0]}_"q`
    await admin.query(`CREATE SCHEMA "${schema.replaceAll('"', '""')}"`)
    try {
      const url = new URL(postgresUrl)
      url.searchParams.set('options', `-c search_path="${schema.replaceAll('"', '""')}"`)
      const db = new PostgresDatabase({ connectionString: url.href })
      databases.push(db)
      await db.open()
      expect(db.locate('Bob')).toBe(`table "${schema.replaceAll('"', '""')}"."market_system_markets", row \`Bob\``)
    } finally {
      await Promise.all(databases.splice(0).map((database) => database.close()))
      await admin.query(`DROP SCHEMA "${schema.replaceAll('"', '""')}" CASCADE`)
    }
  })

  it('sizes the pool it creates by max: with max 1, a call waits for the connection a lock holds', async () => {
    const name = await table()
    const db = database({ table: name, max: 1, connectionTimeoutMs: 200 })
    await db.store('m', snapshot('m', 1))
    const lock = await lockOf(db, 'm')
    expect(await lock.get()).toEqual(snapshot('m', 1))
    await expect(db.get('other')).rejects.toThrow()
    await lock.release()
    // Released, the connection serves the next call, with the lock's transaction ended: what it stores now is
    // committed, and another instance sees it.
    await db.store('m', snapshot('m', 2))
    expect(await database({ table: name }).get('m')).toEqual(snapshot('m', 2))
  })

  it('gives back a stored snapshot that has no revision as it was, at revision 0', async () => {
    const db = database({ table: await table() })
    const imported = { format: 1, market: 'm', products: {} }
    await db.store('m', imported)
    expect(await db.get('m')).toEqual(imported)
    expect(await db.revisions(['m'])).toEqual(new Map([['m', 0]]))
    // Revision 0 is what a conditional store expecting nothing stored finds.
    expect(await db.storeIf('m', snapshot('m', 1), 0)).toBe(true)
    expect(await db.get('m')).toEqual(snapshot('m', 1))
  })

  it('stores a snapshot whose revision is not an integer, or that is null, at revision 0', async () => {
    const db = database({ table: await table() })
    await db.store('fraction', { ...snapshot('fraction', 1), revision: 1.5 })
    await db.store('null', null)
    expect(await db.get('null')).toBeNull()
    expect(await db.revisions(['fraction', 'null'])).toEqual(
      new Map([
        ['fraction', 0],
        ['null', 0],
      ]),
    )
  })

  it('says which revisions disagree when the revision column differs from the snapshot’s', async () => {
    const name = await table()
    const db = database({ table: name })
    await db.open()
    await admin.query(`INSERT INTO ${name} VALUES ('m', 7, $1, now())`, [JSON.stringify(snapshot('m', 1))])
    const error = await db.get('m').catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(CorruptDataError)
    expect((error as CorruptDataError).message).toBe(
      `Stored data of market \`m\` (${db.locate('m')}) is corrupt: column \`revision\` is 7 but the snapshot's revision is 1`,
    )
    expect((error as CorruptDataError).market).toBe('m')
  })

  it('rejects storeIf with the server’s error when the statement fails (the table was dropped)', async () => {
    const name = await table()
    const db = database({ table: name })
    await db.open()
    await admin.query(`DROP TABLE ${name}`)
    await expect(db.storeIf('m', snapshot('m', 1), 0)).rejects.toMatchObject({ code: '42P01' })
    await expect(db.storeIf('m', snapshot('m', 2), 1)).rejects.toMatchObject({ code: '42P01' })
    // The revisions of no markets need no statement: they are known without the table.
    expect(await db.revisions([])).toEqual(new Map())
  })

  it('lets the locks of two markets be held at once', async () => {
    const name = await table()
    const [a, b] = [database({ table: name, queryTimeoutMs: 1000 }), database({ table: name, queryTimeoutMs: 1000 })]
    const first = await lockOf(a, 'apples')
    const second = await lockOf(b, 'pears')
    expect(await second.storeIf(snapshot('pears', 1), 0)).toBe(true)
    expect(await first.storeIf(snapshot('apples', 1), 0)).toBe(true)
    expect(await a.revisions(['apples', 'pears'])).toEqual(
      new Map([
        ['apples', 1],
        ['pears', 1],
      ]),
    )
  })

  it('rejects lock() when another instance holds the market past the statement timeout, holding nothing', async () => {
    const name = await table()
    const [a, b] = [database({ table: name }), database({ table: name, queryTimeoutMs: 300 })]
    const held = await lockOf(a, 'm')
    await expect(lockOf(b, 'm')).rejects.toMatchObject({ code: '57014' })
    await held.release()
    // b's failed attempt left no lock behind: a takes the market again at once.
    const again = await lockOf(a, 'm')
    expect(await again.storeIf(snapshot('m', 1), 0)).toBe(true)
  })

  it('ends the connections of the pool it created when closed', async () => {
    const name = await table()
    const applicationName = `market_system_close_${process.pid}`
    const url = new URL(postgresUrl)
    url.searchParams.set('application_name', applicationName)
    const db = new PostgresDatabase({ connectionString: url.href, table: name })
    databases.push(db)
    await Promise.all([db.markets(), db.revisions(['a']), db.get('b')])
    const sessions = async () =>
      (
        await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
          applicationName,
        ])
      ).rows[0].n as number
    expect(await sessions()).toBeGreaterThan(0)
    await db.close()
    // The server notices each ended connection a moment after the client closed it.
    await expect.poll(sessions, { timeout: 5000, interval: 20 }).toBe(0)
  })

  it('lands stores of one market in call order, also one called while an earlier one is still on its way', async () => {
    const real = new pg.Pool({ connectionString: postgresUrl, max: 4 })
    // INSERTs (the stores) wait at this gate, which lets one through a moment after the first arrived, the newest
    // revision first, and the next once it is done: stores of one market on their way together would land out of order.
    const gated: { revision: number; go: () => void }[] = []
    let scheduled = false
    const schedule = (ms: number) => {
      if (scheduled) return
      scheduled = true
      setTimeout(openGate, ms)
    }
    const openGate = () => {
      scheduled = false
      gated.sort((x, y) => x.revision - y.revision)
      gated.pop()?.go()
    }
    const pool = {
      on: real.on.bind(real),
      removeListener: real.removeListener.bind(real),
      connect: async () => {
        const client = await real.connect()
        return new Proxy(client, {
          get(target, key) {
            if (key === 'query') {
              return async (config: { text: string; values: unknown[] }) => {
                if (!config.text.startsWith('INSERT')) return target.query(config as never)
                await new Promise<void>((go) => {
                  gated.push({ revision: Number(config.values[1]), go })
                  schedule(100)
                })
                try {
                  return await target.query(config as never)
                } finally {
                  if (gated.length > 0) schedule(0)
                }
              }
            }
            const value = Reflect.get(target, key)
            return typeof value === 'function' ? value.bind(target) : value
          },
        })
      },
    }
    try {
      const db = new PostgresDatabase({ pool: pool as unknown as pg.Pool, table: await table() })
      databases.push(db)
      // Connections ready in the pool, so that a store reaches the gate at once.
      await Promise.all([db.markets(), db.markets(), db.markets()])
      const first = db.store('m', snapshot('m', 1))
      const second = db.store('m', snapshot('m', 2))
      await first
      const third = db.store('m', snapshot('m', 3))
      await Promise.all([second, third])
      expect(await db.get('m')).toEqual(snapshot('m', 3))
    } finally {
      await Promise.all(databases.splice(0).map((database) => database.close()))
      await real.end()
    }
  })
})
