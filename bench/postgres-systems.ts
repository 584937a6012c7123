// Systems on PostgreSQL for the bench: market-system on PostgresDatabase (one instance, and two instance
// processes behind a round-robin balancer), and two baselines a user would write instead, one row per product:
// one statement per call, and a transaction per call with SELECT ... FOR UPDATE. Each run starts its own
// throwaway server (fsync on, as durable as the file systems' runs), seeds it outside the measurement, and
// removes it on close. All use pools of POOL_SIZE connections (per process).
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { InsufficientStockError, MarketCache, type Product, ProductNotFoundError } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { type PostgresServer, startPostgresServer } from '../test/helpers/postgres-server.js'
import { cacheStore } from './cache-store.js'
import type { SeedMarket } from './data.js'
import type { Store, System } from './systems.js'

const POOL_SIZE = 10

const toSnapshot = (market: SeedMarket) => ({
  format: 1,
  market: market.name,
  revision: 0,
  products: Object.fromEntries(market.products.map((product, i) => [market.ids[i] as string, product])),
})

/** A server of the run's own, and the seed markets written in `seed` (which must stay synchronous). */
function serverSystem(name: string, open: (url: string, markets: SeedMarket[]) => Promise<Store>): System {
  let markets: SeedMarket[] = []
  return {
    name,
    seed(_dir, all) {
      markets = [...all]
    },
    async open() {
      const server: PostgresServer = await startPostgresServer({ fsync: true })
      try {
        const store = await open(server.url, markets)
        return {
          ...store,
          async close() {
            await store.close()
            server.destroy()
          },
        }
      } catch (error) {
        server.destroy()
        throw error
      }
    },
  }
}

async function seedSnapshots(url: string, markets: SeedMarket[]): Promise<void> {
  const database = new PostgresDatabase({ connectionString: url, max: POOL_SIZE })
  await database.open()
  for (let i = 0; i < markets.length; i += POOL_SIZE) {
    await Promise.all(markets.slice(i, i + POOL_SIZE).map((market) => database.store(market.name, toSnapshot(market))))
  }
  await database.close()
}

/** A store over one MarketCache on PostgreSQL, in this process. */
async function postgresCacheStore(url: string, idleTimeoutMs?: number): Promise<Store> {
  const cache = await MarketCache.start({
    database: new PostgresDatabase({ connectionString: url, max: POOL_SIZE }),
    ...(idleTimeoutMs ? { idleTimeoutMs } : {}),
  })
  return cacheStore(cache)
}

const marketSystemPostgres = serverSystem('market-system-postgres', async (url, markets) => {
  await seedSnapshots(url, markets)
  return postgresCacheStore(url)
})

type Request = { id: number; op: 'add' | 'get' | 'update' | 'adjust'; market: string; args: unknown[] }
type Reply = { id: number; value?: unknown; error?: string }

/** Entry of an instance process of `market-system-postgres-x2`: serves the parent's calls over IPC. */
export async function serveInstance(url: string): Promise<void> {
  const store = await postgresCacheStore(url)
  const send = (reply: Reply) => process.send?.(reply)
  process.on('message', (message: Request | 'close') => {
    if (message === 'close') {
      void store.close().then(() => process.disconnect())
      return
    }
    const { id, op, market, args } = message
    const call = (store[op] as (...all: unknown[]) => Promise<unknown>)(market, ...args)
    call.then(
      (value) => send({ id, value }),
      (error: unknown) => send({ id, error: error instanceof Error ? error.name : String(error) }),
    )
  })
  send({ id: -1 })
}

function startInstance(
  url: string,
): Promise<{ child: ChildProcess; call: (request: Omit<Request, 'id'>) => Promise<unknown> }> {
  const self = fileURLToPath(import.meta.url)
  const code = `import(${JSON.stringify(self)}).then((m) => m.serveInstance(${JSON.stringify(url)}))`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  })
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  let next = 0
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`instance exited with ${code}`)))
    child.on('message', (reply: Reply) => {
      if (reply.id === -1) {
        resolve({
          child,
          call: (request) =>
            new Promise((resolveCall, rejectCall) => {
              const id = next++
              waiting.set(id, { resolve: resolveCall, reject: rejectCall })
              child.send({ id, ...request })
            }),
        })
        return
      }
      const entry = waiting.get(reply.id)
      waiting.delete(reply.id)
      if (reply.error === undefined) entry?.resolve(reply.value)
      else entry?.reject(new Error(reply.error))
    })
  })
}

/**
 * Two instance processes on one server, the bench process as their load balancer: each market's calls go to
 * one instance (by market, as a sticky balancer would), or with MARKET_SYSTEM_BENCH_ROUTING=call round robin
 * per call, so that every market is written by both instances and conflicts are the rule.
 */
const marketSystemPostgresX2 = serverSystem('market-system-postgres-x2', async (url, markets) => {
  await seedSnapshots(url, markets)
  const instances = await Promise.all([startInstance(url), startInstance(url)])
  const perCall = process.env.MARKET_SYSTEM_BENCH_ROUTING === 'call'
  const byMarket = new Map(markets.map((market, i) => [market.name, i % instances.length]))
  let turn = 0
  const call = <T>(op: Request['op'], market: string, ...args: unknown[]) => {
    const index = perCall ? turn++ % instances.length : (byMarket.get(market) ?? 0)
    return (instances[index] as Awaited<ReturnType<typeof startInstance>>).call({ op, market, args }) as Promise<T>
  }
  return {
    add: (market, product) => call<string>('add', market, product),
    get: (market, id) => call<Product | undefined>('get', market, id),
    update: (market, id, product) => call<void>('update', market, id, product),
    adjust: (market, id, delta) => call<number>('adjust', market, id, delta),
    stores: () => undefined,
    async release() {},
    async close() {
      await Promise.all(
        instances.map(
          ({ child }) =>
            new Promise<void>((resolve) => {
              child.removeAllListeners('exit')
              child.once('exit', () => resolve())
              child.send('close')
            }),
        ),
      )
    },
  }
})

async function seedRows(pool: pg.Pool, markets: SeedMarket[]): Promise<void> {
  await pool.query(`CREATE TABLE products (
    market text NOT NULL, id text NOT NULL, name text NOT NULL, quantity bigint NOT NULL,
    expiration_date text NOT NULL, price double precision NOT NULL, PRIMARY KEY (market, id))`)
  for (const market of markets) {
    await pool.query(
      `INSERT INTO products SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::float8[])`,
      [
        market.name,
        market.ids,
        market.products.map((p) => p.name),
        market.products.map((p) => p.quantity),
        market.products.map((p) => p.expirationDate),
        market.products.map((p) => p.price),
      ],
    )
  }
}

interface Row {
  name: string
  quantity: string
  expiration_date: string
  price: number
}
const fromRow = (row: Row): Product => ({
  name: row.name,
  quantity: Number(row.quantity),
  expirationDate: row.expiration_date,
  price: row.price,
})

/** What every row-per-product baseline shares: get and add are one statement each. */
function rowStore(pool: pg.Pool, writes: () => number): Pick<Store, 'get' | 'add' | 'stores' | 'release' | 'close'> {
  return {
    async get(market, id) {
      const { rows } = await pool.query<Row>(
        'SELECT name, quantity, expiration_date, price FROM products WHERE market = $1 AND id = $2',
        [market, id],
      )
      return rows[0] && fromRow(rows[0])
    },
    async add(market, product) {
      const id = `n${Math.random().toString(36).slice(2, 12)}${Date.now().toString(36)}`
      await pool.query('INSERT INTO products VALUES ($1, $2, $3, $4, $5, $6)', [
        market,
        id,
        product.name,
        product.quantity,
        product.expirationDate,
        product.price,
      ])
      return id
    },
    stores: writes,
    async release() {},
    close: () => pool.end(),
  }
}

const postgresPerOp = serverSystem('postgres-per-op', async (url, markets) => {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE })
  await seedRows(pool, markets)
  let writes = 0
  return {
    ...rowStore(pool, () => writes),
    async update(market, id, product) {
      writes++
      const { rowCount } = await pool.query(
        'UPDATE products SET name = $3, quantity = $4, expiration_date = $5, price = $6 WHERE market = $1 AND id = $2',
        [market, id, product.name, product.quantity, product.expirationDate, product.price],
      )
      if (rowCount !== 1) throw new ProductNotFoundError(market, id)
    },
    async adjust(market, id, delta) {
      writes++
      const { rows } = await pool.query<{ quantity: string }>(
        'UPDATE products SET quantity = quantity + $3 WHERE market = $1 AND id = $2 AND quantity + $3 >= 0 RETURNING quantity',
        [market, id, delta],
      )
      if (!rows[0]) throw new InsufficientStockError(market, id, Number.NaN, delta)
      return Number(rows[0].quantity)
    },
  }
})

const postgresRowLock = serverSystem('postgres-row-lock', async (url, markets) => {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE })
  await seedRows(pool, markets)
  let writes = 0
  /** BEGIN; SELECT ... FOR UPDATE; `change` decides the new row; UPDATE; COMMIT. */
  async function locked<T>(market: string, id: string, change: (current: Product) => [Product, T]): Promise<T> {
    writes++
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const { rows } = await client.query<Row>(
        'SELECT name, quantity, expiration_date, price FROM products WHERE market = $1 AND id = $2 FOR UPDATE',
        [market, id],
      )
      if (!rows[0]) throw new ProductNotFoundError(market, id)
      const [next, result] = change(fromRow(rows[0]))
      await client.query(
        'UPDATE products SET name = $3, quantity = $4, expiration_date = $5, price = $6 WHERE market = $1 AND id = $2',
        [market, id, next.name, next.quantity, next.expirationDate, next.price],
      )
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      client.release()
    }
  }
  return {
    ...rowStore(pool, () => writes),
    update: (market, id, product) => locked(market, id, () => [product, undefined]),
    adjust: (market, id, delta) =>
      locked(market, id, (current) => {
        if (current.quantity + delta < 0) throw new InsufficientStockError(market, id, current.quantity, delta)
        return [{ ...current, quantity: current.quantity + delta }, current.quantity + delta]
      }),
  }
})

export const postgresSystems: System[] = [marketSystemPostgres, marketSystemPostgresX2, postgresPerOp, postgresRowLock]
