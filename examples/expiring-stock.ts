// Closing time: find every product past its expiration date across all markets, then write it off.
// Queries run per market (each market is its own actor), so a cross-market report visits each one.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MarketCache, type StockItem } from '../src/index.js'

/** `YYYY-MM-DD`, `days` from today in local time. */
function dayFromToday(days: number): string {
  const date = new Date()
  date.setDate(date.getDate() + days)
  const pad = (value: number) => String(value).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
}

const today = dayFromToday(0)
const dir = await mkdtemp(join(tmpdir(), 'market-system-expiring-'))
try {
  const cache = await MarketCache.start({ dataDir: dir })
  const seed = {
    'Corner shop': [
      { name: 'milk', quantity: 12, expirationDate: dayFromToday(-2), price: 1.19 },
      { name: 'bread', quantity: 8, expirationDate: dayFromToday(0), price: 2.5 },
    ],
    "Bob's list": [
      { name: 'linguissa', quantity: 5, expirationDate: dayFromToday(-30), price: 23.45 },
      { name: 'olive oil', quantity: 3, expirationDate: dayFromToday(400), price: 9.9 },
    ],
    Warehouse: [{ name: 'yoghurt', quantity: 200, expirationDate: dayFromToday(-1), price: 0.89 }],
  }
  for (const [market, products] of Object.entries(seed)) {
    await Promise.all(products.map((product) => cache.market(market).addProduct(product)))
  }

  // Expired means the date has passed: a product expiring today may still be sold today.
  const expired: (StockItem & { market: string })[] = []
  for (const market of await cache.markets()) {
    for (const item of await cache.market(market).listProducts()) {
      if (item.expirationDate < today) expired.push({ market, ...item })
    }
  }
  expired.sort((a, b) => a.expirationDate.localeCompare(b.expirationDate))
  console.log(`Expired as of ${today}:`)
  for (const { market, name, quantity, expirationDate, price } of expired) {
    console.log(
      `  ${expirationDate}  ${market.padEnd(12)} ${name.padEnd(10)} x${quantity}  (${(quantity * price).toFixed(2)} lost)`,
    )
  }

  // Write-off: each deletion is durable before it resolves.
  await Promise.all(expired.map(({ market, id }) => cache.market(market).deleteProduct(id)))
  const left = (await Promise.all((await cache.markets()).map((market) => cache.market(market).listProducts()))).flat()
  console.log(`Wrote off ${expired.length} product(s); ${left.length} left: ${left.map(({ name }) => name).join(', ')}`)
  if (expired.length !== 3 || left.some((item) => item.expirationDate < today)) throw new Error('write-off went wrong')
  await cache.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}
