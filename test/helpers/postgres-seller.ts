// A child process selling from one market on a shared PostgreSQL, for the process tests and the multi-instance
// example: `postgres-seller.ts URL TABLE MARKET CONCURRENCY ID...`. Prints `ready`, then `sold ID` for every
// acknowledged one-unit sale and `out ID` for every InsufficientStockError (anything else: `error CODE`), until a
// line arrives on stdin or every product is out; then waits for its calls, closes the cache, prints `done`.
import { createInterface } from 'node:readline'
import { InsufficientStockError, MarketCache, MarketError } from '../../src/index.js'
import { PostgresDatabase } from '../../src/postgres.js'

const [url, table, marketName, concurrency, ...ids] = process.argv.slice(2)
const cache = await MarketCache.start({
  database: new PostgresDatabase({ connectionString: url as string, table: table as string }),
})
const market = cache.market(marketName as string)
const out = new Set<string>()
let stopping = false
createInterface({ input: process.stdin }).once('line', () => {
  stopping = true
})

async function seller(offset: number): Promise<void> {
  for (let i = offset; !stopping && out.size < ids.length; i++) {
    const id = ids[i % ids.length] as string
    if (out.has(id)) continue
    try {
      await market.adjustQuantity(id, -1)
      console.log(`sold ${id}`)
    } catch (error) {
      if (error instanceof InsufficientStockError) {
        out.add(id)
        console.log(`out ${id}`)
      } else {
        console.log(`error ${error instanceof MarketError ? error.code : String(error)}`)
      }
    }
  }
}

console.log('ready')
await Promise.all(Array.from({ length: Number(concurrency) }, (_, offset) => seller(offset)))
await cache.close()
console.log('done')
process.exit(0)
