import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { FileDatabase } from '../src/file-database/file-database.js'
import { fileNameFor } from '../src/file-database/file-names.js'
import { WriteWorker } from '../src/file-database/write-worker.js'
import { MarketCache } from '../src/market-cache.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
afterEach(() => {
  vi.useRealTimers()
})

describe('FileDatabase through write worker threads', () => {
  it('stores many markets of one lane in batches, each file holding its own newest snapshot', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir, workers: 1 })
    const markets = Array.from({ length: 20 }, (_, i) => `market ${i}`)
    await Promise.all(
      markets.flatMap((market) =>
        [1, 2, 3].map((revision) => database.store(market, { format: 1, market, revision, products: {} })),
      ),
    )
    await database.close()
    for (const market of markets) {
      const stored = JSON.parse(await readFile(join(dir, fileNameFor(market)), 'utf8'))
      expect(stored).toEqual({ format: 1, market, revision: 3, products: {} })
    }
  })

  it('does not stall behind fake timers in a user test', async () => {
    const dir = await tempDir()
    vi.useFakeTimers()
    const cache = await MarketCache.start({ dataDir: dir, workers: 1 })
    const stocks = Array.from({ length: 5 }, (_, i) => cache.market(`m${i}`))
    // Several markets on one lane, several calls each: later batches and follow-up stores wait for the
    // event loop's next turn, which must not be a faked setImmediate.
    const ids = await Promise.all(stocks.flatMap((stock) => [stock.addProduct(sample), stock.addProduct(sample)]))
    expect(ids).toHaveLength(10)
    await cache.close()
  })

  it('reports a closed worker as not alive, so the database would start a new one', async () => {
    const dir = await tempDir()
    const worker = new WriteWorker(dir, false)
    expect(worker.alive).toBe(true)
    await expect(
      worker.write([{ target: join(dir, 'a.json'), temp: join(dir, 'a.json.0123456789abcdef.tmp'), data: '{}' }]),
    ).resolves.toEqual([undefined])
    await worker.close()
    expect(worker.alive).toBe(false)
    expect(await readFile(join(dir, 'a.json'), 'utf8')).toBe('{}')
  })
})
