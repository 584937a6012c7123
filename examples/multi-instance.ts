// Scaling out: three processes (think three replicas behind a load balancer), each with its own MarketCache,
// all on one PostgreSQL database, sell from the same products at the same moment. No routing, no locks to
// take: every sale is a conditional store, so no unit is sold twice and the totals add up exactly.
//
// Uses DATABASE_URL when set; otherwise starts a throwaway PostgreSQL server (the tests' helper) and removes
// it afterwards. Runs itself as the worker processes (`multi-instance.ts worker ...`).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ConflictError, InsufficientStockError, MarketCache } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'

const WORKERS = 3
const SHOPPERS_PER_WORKER = 200
const stock = [
  { name: 'television', quantity: 250, expirationDate: '2030-12-31', price: 499 },
  { name: 'headphones', quantity: 500, expirationDate: '2030-12-31', price: 59.9 },
  { name: 'console', quantity: 200, expirationDate: '2030-12-31', price: 399 },
]

const openCache = (url: string, table: string) =>
  MarketCache.start({ database: new PostgresDatabase({ connectionString: url, table }) })

/** One instance: its shoppers all buy at once; reports what it sold per product. */
async function worker(url: string, table: string, index: number, ids: string[]): Promise<void> {
  const cache = await openCache(url, table)
  const shop = cache.market('electronics')
  let seed = 7 + index
  const random = (below: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return (seed >>> 16) % below
  }
  const sold = ids.map(() => 0)
  let refused = 0
  let retried = 0
  // Ready (connected, market loaded); wait for the parent's go, so that all instances sell at the same moment.
  await shop.listProducts()
  console.log('ready')
  await new Promise((resolve) => process.stdin.once('data', resolve))
  process.stdin.destroy()
  await Promise.all(
    Array.from({ length: SHOPPERS_PER_WORKER }, async () => {
      const product = random(ids.length)
      const amount = 1 + random(3)
      for (;;) {
        try {
          await shop.adjustQuantity(ids[product] as string, -amount)
          sold[product] = (sold[product] ?? 0) + amount
        } catch (error) {
          // Another instance kept winning this market (rare): nothing was stored, so trying again is safe.
          if (error instanceof ConflictError) {
            retried += 1
            continue
          }
          if (!(error instanceof InsufficientStockError)) throw error
          refused += 1
        }
        return
      }
    }),
  )
  await cache.close()
  console.log(JSON.stringify({ index, sold, refused, retried }))
}

interface Report {
  index: number
  sold: number[]
  refused: number
  retried: number
}

/** Starts a worker process; resolves once it is ready, with `go()` to let it sell and `report` for its result. */
function startWorker(url: string, table: string, index: number, ids: string[]) {
  const self = fileURLToPath(import.meta.url)
  const child = spawn(process.execPath, ['--import', 'tsx', self, 'worker', url, table, String(index), ...ids], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let output = ''
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => {
    markReady = resolve
  })
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk
    if (output.startsWith('ready\n')) markReady()
  })
  const report = new Promise<Report>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(output.slice('ready\n'.length).trim()))
        : reject(new Error(`worker ${index} exited with ${code}`)),
    ),
  )
  report.catch(() => markReady())
  return ready.then(() => ({ go: () => child.stdin.end('go\n'), report }))
}

async function main(): Promise<void> {
  let url = process.env.DATABASE_URL
  let server: { destroy(): void } | undefined
  if (!url) {
    const { startPostgresServer } = await import('../test/helpers/postgres-server.js')
    const started = await startPostgresServer()
    server = started
    url = started.url
  }
  // A table of this run's own, dropped at the end, so the example never touches data of yours.
  const table = `market_system_example_${process.pid}`
  try {
    const setup = await openCache(url, table)
    const ids = await Promise.all(stock.map((product) => setup.market('electronics').addProduct(product)))
    await setup.close()

    const workers = await Promise.all(
      Array.from({ length: WORKERS }, (_, index) => startWorker(url, table, index, ids)),
    )
    for (const each of workers) each.go()
    const reports = await Promise.all(workers.map((each) => each.report))
    for (const { index, sold, refused, retried } of reports) {
      const parts = stock.map((product, i) => `${sold[i]} ${product.name}`)
      const retries = retried > 0 ? `, ${retried} retried after ConflictError` : ''
      console.log(`instance ${index + 1}: sold ${parts.join(', ')}; ${refused} refused for lack of stock${retries}`)
    }

    // The database, read by a fresh instance, holds exactly what the instances acknowledged, together.
    const check = await openCache(url, table)
    const left = await check.market('electronics').listProducts()
    await check.close()
    for (const [i, product] of stock.entries()) {
      const sold = reports.reduce((sum, report) => sum + (report.sold[i] ?? 0), 0)
      const stored = left.find((item) => item.id === ids[i])?.quantity
      console.log(
        `${product.name.padEnd(10)} started ${product.quantity}, sold ${sold} in total, ${stored} left in PostgreSQL`,
      )
      if (stored !== product.quantity - sold || (stored as number) < 0) {
        throw new Error(`${product.name}: expected ${product.quantity - sold} left, found ${stored}`)
      }
    }
    console.log(`${WORKERS} instances, one database: no oversell, every acknowledged sale stored`)
  } finally {
    const { default: pg } = await import('pg')
    const client = new pg.Client(url)
    await client.connect()
    await client.query(`DROP TABLE IF EXISTS ${table}`)
    await client.end()
    server?.destroy()
  }
}

const [mode, url, table, index, ...ids] = process.argv.slice(2)
if (mode === 'worker') await worker(url as string, table as string, Number(index), ids)
else await main()
