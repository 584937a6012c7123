import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Worker } from 'node:worker_threads'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FileDatabase } from '../src/file-database/file-database.js'
import { fileNameFor } from '../src/file-database/file-names.js'
import { WriteThread } from '../src/file-database/write-thread.js'
import { MarketCache } from '../src/market-cache.js'
import { useChildCleanup } from './helpers/child.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const children = useChildCleanup()
afterEach(() => {
  vi.useRealTimers()
})

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const snapshot = (market: string, revision: number) => ({ format: 1, market, revision, products: {} })

/**
 * Runs `fixtures/<child>` in a process whose write threads have `thread-death-preload.cjs` preloaded (a
 * thread ends at the rename of market `dies`, the fsync of market `slow` waits for a release file), and
 * resolves to the JSON line it prints.
 */
async function runWithThreadFaults(child: string): Promise<unknown> {
  const dir = await tempDir()
  const control = join(await tempDir(), 'control')
  const process_ = spawn(
    process.execPath,
    ['--import', 'tsx', '-r', fixture('thread-death-preload.cjs'), fixture(child), dir],
    { env: { ...process.env, THREAD_DEATH: control }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  children.push(process_)
  let stdout = ''
  let stderr = ''
  process_.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  process_.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const code = await new Promise((resolve) => process_.once('exit', resolve))
  expect(stderr).toBe('')
  expect(code).toBe(0)
  return JSON.parse(stdout)
}

/** Every write thread this process starts from now on. */
function watchThreads(): Worker[] {
  const threads: Worker[] = []
  const watch = (thread: Worker) => threads.push(thread)
  beforeEach(() => {
    threads.length = 0
    process.on('worker', watch)
  })
  afterEach(() => {
    process.off('worker', watch)
  })
  return threads
}

describe('FileDatabase through write threads', () => {
  it('stores many markets of one lane in batches, each file holding its own newest snapshot', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir, workers: 1 })
    const markets = Array.from({ length: 20 }, (_, i) => `market ${i}`)
    await Promise.all(
      markets.flatMap((market) => [1, 2, 3].map((revision) => database.store(market, snapshot(market, revision)))),
    )
    await database.close()
    for (const market of markets) {
      const stored = JSON.parse(await readFile(join(dir, fileNameFor(market)), 'utf8'))
      expect(stored).toEqual(snapshot(market, 3))
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

  it('reports a closed thread as not alive, so the database would start a new one', async () => {
    const dir = await tempDir()
    const thread = new WriteThread(dir, false)
    expect(thread.alive).toBe(true)
    await expect(
      thread.write([{ target: join(dir, 'a.json'), temp: join(dir, 'a.json.0123456789abcdef.tmp'), data: '{}' }]),
    ).resolves.toEqual([undefined])
    await thread.close()
    expect(thread.alive).toBe(false)
    expect(await readFile(join(dir, 'a.json'), 'utf8')).toBe('{}')
  })

  it('fails a dead thread’s files only once no other file of its batch can land, so no acknowledged write is overwritten', async () => {
    expect(await runWithThreadFaults('thread-death-child.ts')).toEqual({
      failedEarly: false,
      dies: 'write thread exited with code 1',
      slow: 'stored',
      next: 'stored',
      stored: 2,
    })
  })
})

describe('lanes', () => {
  it('writes a market of another lane while one lane’s thread is stuck in fsync', async () => {
    expect(await runWithThreadFaults('stuck-lane-child.ts')).toEqual({
      whileStuck: { other: true, slow: false },
      slow: true,
    })
  })
})

describe('FileDatabase.close', () => {
  const threads = watchThreads()

  it('releases the directory lock even when a write thread dies while it closes', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir, workers: 1 })
    await database.store('m', snapshot('m', 1))
    expect(threads).toHaveLength(1)
    // The thread exits while close() is asking it to finish: its answer never comes.
    const closing = database.close()
    void (threads[0] as Worker).terminate()
    await closing
    expect(await readdir(dir)).toEqual([fileNameFor('m')])
    const next = new FileDatabase({ dir })
    await next.open()
    await next.close()
  })
})
