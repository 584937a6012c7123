import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Low } from 'lowdb'
import { JSONFile } from 'lowdb/node'
import { nanoid } from 'nanoid'
import { fileNameFor } from '../src/file-database/file-names.js'
import { InsufficientStockError, MarketCache, type Product, ProductNotFoundError } from '../src/index.js'
import { cacheStore } from './cache-store.js'
import { type SeedMarket, snapshotJson } from './data.js'
import { postgresSystems } from './postgres-systems.js'

/** The operations every system offers, on named markets. */
export interface Store {
  add(market: string, product: Product): Promise<string>
  get(market: string, id: string): Promise<Product | undefined>
  update(market: string, id: string, product: Product): Promise<void>
  adjust(market: string, id: string, delta: number): Promise<number>
  /** Writes issued so far (durable stores, transactions, file rewrites), when the system can tell. */
  stores(): number | undefined
  /** Drops per-market memory, as idle passivation does for market-system; resolves once done. */
  release(): Promise<void>
  close(): Promise<void>
}

export interface System {
  name: string
  /** Writes the initial data in the system's own format, outside any measurement. */
  seed(dir: string, markets: Iterable<SeedMarket>): void
  open(dir: string, options: { idleTimeoutMs?: number }): Promise<Store>
}

/** market-system, lowdb and naive all start from market-system's own file per market. */
function seedJsonFiles(dir: string, markets: Iterable<SeedMarket>): void {
  mkdirSync(dir, { recursive: true })
  for (const market of markets) writeFileSync(join(dir, fileNameFor(market.name)), snapshotJson(market))
}

function marketSystem(name: string, fsync: boolean): System {
  return {
    name,
    seed: seedJsonFiles,
    async open(dir, { idleTimeoutMs }) {
      return cacheStore(await MarketCache.start({ dataDir: dir, fsync, ...(idleTimeoutMs ? { idleTimeoutMs } : {}) }))
    },
  }
}

interface LowData {
  format: number
  market: string
  revision: number
  products: Record<string, Product>
}

/** lowdb 7: one JSONFile db per market, `db.update` per change; steno writes temp + rename, never fsyncs. */
const lowdb: System = {
  name: 'lowdb',
  seed: seedJsonFiles,
  async open(dir) {
    let dbs = new Map<string, Promise<Low<LowData>>>()
    const db = (market: string) => {
      let found = dbs.get(market)
      if (!found) {
        const low = new Low<LowData>(new JSONFile(join(dir, fileNameFor(market))), {
          format: 1,
          market,
          revision: 0,
          products: {},
        })
        found = low.read().then(() => low)
        dbs.set(market, found)
      }
      return found
    }
    return {
      async add(market, product) {
        const id = nanoid()
        await (await db(market)).update((data) => {
          data.products[id] = { ...product }
          data.revision++
        })
        return id
      },
      async get(market, id) {
        const found = (await db(market)).data.products[id]
        return found && { ...found }
      },
      async update(market, id, product) {
        const low = await db(market)
        if (!low.data.products[id]) throw new ProductNotFoundError(market, id)
        await low.update((data) => {
          data.products[id] = { ...product }
          data.revision++
        })
      },
      async adjust(market, id, delta) {
        const low = await db(market)
        const found = low.data.products[id]
        if (!found) throw new ProductNotFoundError(market, id)
        if (found.quantity + delta < 0) throw new InsufficientStockError(market, id, found.quantity, delta)
        let quantity = 0
        await low.update((data) => {
          quantity = found.quantity + delta
          data.products[id] = { ...found, quantity }
          data.revision++
        })
        return quantity
      },
      stores: () => undefined,
      async release() {
        dbs = new Map()
      },
      async close() {
        await Promise.all([...dbs.values()].map(async (found) => (await found).write()))
      },
    }
  },
}

/** better-sqlite3 12, WAL, one transaction per operation, one row per product. */
function sqlite(name: string, synchronous: 'FULL' | 'NORMAL'): System {
  return {
    name,
    seed(dir, markets) {
      mkdirSync(dir, { recursive: true })
      const db = new Database(join(dir, 'stock.db'))
      db.pragma('journal_mode = WAL')
      db.exec(`CREATE TABLE products (
        market TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, quantity INTEGER NOT NULL,
        expirationDate TEXT NOT NULL, price REAL NOT NULL, PRIMARY KEY (market, id)) WITHOUT ROWID`)
      const insert = db.prepare('INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)')
      const seedAll = db.transaction((all: Iterable<SeedMarket>) => {
        for (const market of all) {
          market.products.forEach((p, i) => {
            insert.run(market.name, market.ids[i], p.name, p.quantity, p.expirationDate, p.price)
          })
        }
      })
      seedAll(markets)
      db.pragma('wal_checkpoint(TRUNCATE)')
      db.close()
    },
    async open(dir) {
      const db = new Database(join(dir, 'stock.db'))
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${synchronous}`)
      let stores = 0
      const select = db.prepare<[string, string], Product>(
        'SELECT name, quantity, expirationDate, price FROM products WHERE market = ? AND id = ?',
      )
      const insert = db.prepare('INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)')
      const replace = db.prepare(
        'UPDATE products SET name = ?, quantity = ?, expirationDate = ?, price = ? WHERE market = ? AND id = ?',
      )
      const setQuantity = db.prepare('UPDATE products SET quantity = ? WHERE market = ? AND id = ?')
      const add = db.transaction((market: string, id: string, p: Product) => {
        insert.run(market, id, p.name, p.quantity, p.expirationDate, p.price)
      })
      const update = db.transaction((market: string, id: string, p: Product) => {
        if (replace.run(p.name, p.quantity, p.expirationDate, p.price, market, id).changes === 0) {
          throw new ProductNotFoundError(market, id)
        }
      })
      const adjust = db.transaction((market: string, id: string, delta: number) => {
        const found = select.get(market, id)
        if (!found) throw new ProductNotFoundError(market, id)
        const quantity = found.quantity + delta
        if (quantity < 0) throw new InsufficientStockError(market, id, found.quantity, delta)
        setQuantity.run(quantity, market, id)
        return quantity
      })
      return {
        async add(market, product) {
          const id = nanoid()
          stores++
          add(market, id, product)
          return id
        },
        async get(market, id) {
          return select.get(market, id)
        },
        async update(market, id, product) {
          stores++
          update(market, id, product)
        },
        async adjust(market, id, delta) {
          stores++
          return adjust(market, id, delta)
        },
        stores: () => stores,
        async release() {},
        async close() {
          db.close()
        },
      }
    },
  }
}

/** The original design: rewrite the whole file with `writeFile` after every change; no coalescing, no fsync. */
const naive: System = {
  name: 'naive',
  seed: seedJsonFiles,
  async open(dir) {
    interface Market {
      data: LowData
      file: string
      chain: Promise<unknown>
    }
    let markets = new Map<string, Promise<Market>>()
    let stores = 0
    const market = (name: string) => {
      let found = markets.get(name)
      if (!found) {
        const file = join(dir, fileNameFor(name))
        found = readFile(file, 'utf8').then((text) => ({
          data: JSON.parse(text) as LowData,
          file,
          chain: Promise.resolve(),
        }))
        markets.set(name, found)
      }
      return found
    }
    // Writes of one market are chained so they never interleave; each change waits for its own rewrite.
    const persist = (m: Market) => {
      const text = JSON.stringify(m.data)
      stores++
      const written = m.chain.then(() => writeFile(m.file, text))
      m.chain = written.catch(() => {})
      return written
    }
    return {
      async add(name, product) {
        const m = await market(name)
        const id = nanoid()
        m.data.products[id] = { ...product }
        m.data.revision++
        await persist(m)
        return id
      },
      async get(name, id) {
        const found = (await market(name)).data.products[id]
        return found && { ...found }
      },
      async update(name, id, product) {
        const m = await market(name)
        if (!m.data.products[id]) throw new ProductNotFoundError(name, id)
        m.data.products[id] = { ...product }
        m.data.revision++
        await persist(m)
      },
      async adjust(name, id, delta) {
        const m = await market(name)
        const found = m.data.products[id]
        if (!found) throw new ProductNotFoundError(name, id)
        const quantity = found.quantity + delta
        if (quantity < 0) throw new InsufficientStockError(name, id, found.quantity, delta)
        m.data.products[id] = { ...found, quantity }
        m.data.revision++
        await persist(m)
        return quantity
      },
      stores: () => stores,
      async release() {
        await Promise.all([...markets.values()].map(async (m) => (await m).chain))
        markets = new Map()
      },
      async close() {
        await Promise.all([...markets.values()].map(async (m) => (await m).chain))
      },
    }
  },
}

/**
 * The physical limit for one writer: a bare synchronous loop that atomically and durably replaces one
 * file with fixed bytes (temp write, fsync, close, rename, directory fsync). No parsing, no state.
 */
export function durableReplaceLoop(dir: string, fileName: string, bytes: Uint8Array, until: number): number[] {
  const latencies: number[] = []
  const target = join(dir, fileName)
  const temp = `${target}.tmp`
  const dirFd = openSync(dir, 'r')
  try {
    while (performance.now() < until) {
      const started = performance.now()
      const fd = openSync(temp, 'w')
      let offset = 0
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset)
      fsyncSync(fd)
      closeSync(fd)
      renameSync(temp, target)
      fsyncSync(dirFd)
      latencies.push(performance.now() - started)
    }
  } finally {
    closeSync(dirFd)
  }
  return latencies
}

export const DURABLE_WRITE_LIMIT = 'durable-write-limit'
/** The same bare loop from 16 threads on distinct files: the disk's rate of parallel durable replaces. */
export const DURABLE_WRITE_LIMIT_PARALLEL = 'durable-write-limit-parallel'
export const PARALLEL_WRITERS = 16

export const systems: System[] = [
  marketSystem('market-system', true),
  marketSystem('market-system-nofsync', false),
  lowdb,
  sqlite('sqlite-full', 'FULL'),
  sqlite('sqlite-normal', 'NORMAL'),
  naive,
  // On a throwaway PostgreSQL server each: market-system on PostgresDatabase (x1, x2) and two row-per-product baselines.
  ...postgresSystems,
]

export const systemNames = [...systems.map((system) => system.name), DURABLE_WRITE_LIMIT, DURABLE_WRITE_LIMIT_PARALLEL]
