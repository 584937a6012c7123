import { spawn } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Worker } from 'node:worker_threads'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FileDatabase } from '../src/file-database/file-database.js'
import { fileNameFor, isMarketFile, isTempFile } from '../src/file-database/file-names.js'
import { WriteThread } from '../src/file-database/write-thread.js'
import { MarketCache } from '../src/market-cache.js'
import { finished, useChildCleanup } from './helpers/child.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

/**
 * Controls of the `Worker` class the write threads are built from. By default it is node's own Worker,
 * unchanged. A test can make the next constructions fail as node does when a thread cannot be created
 * (ERR_WORKER_INIT_FAILED, e.g. EAGAIN under a container's pids limit), hold a message to a thread (a
 * thread slow in its fsync), or edit the thread's source (a thread that dies at a chosen step).
 */
const control = vi.hoisted(() => ({
  failConstructions: 0,
  patchSource: undefined as undefined | ((source: string) => string),
  hold: undefined as undefined | ((message: unknown) => boolean),
  held: [] as (() => void)[],
}))

vi.mock('node:worker_threads', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:worker_threads')>()
  class Worker extends actual.Worker {
    constructor(source: string | URL, options?: import('node:worker_threads').WorkerOptions) {
      if (control.failConstructions > 0) {
        control.failConstructions--
        throw Object.assign(new Error('Worker initialization failure: EAGAIN'), { code: 'ERR_WORKER_INIT_FAILED' })
      }
      const patch = control.patchSource
      super(patch && options?.eval ? patch(String(source)) : source, options)
    }
    override postMessage(message: unknown, transfer?: readonly import('node:worker_threads').TransferListItem[]) {
      if (control.hold?.(message)) {
        control.held.push(() => super.postMessage(message, transfer))
        return
      }
      super.postMessage(message, transfer)
    }
  }
  return { ...actual, Worker, default: { ...actual, Worker } }
})

const tempDir = useTempDirs()
const children = useChildCleanup()
const toClose: { close(): Promise<unknown> }[] = []
afterEach(async () => {
  control.failConstructions = 0
  control.patchSource = undefined
  control.hold = undefined
  for (const release of control.held.splice(0)) release()
  vi.useRealTimers()
  await Promise.all(toClose.splice(0).map((closable) => closable.close().catch(() => {})))
})

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const snapshot = (market: string, revision: number) => ({ format: 1, market, revision, products: {} })
const settled = (promise: Promise<unknown>) =>
  promise.then(
    () => 'stored',
    (error: Error) => `rejected: ${error.message}`,
  )
/** Holds the first message that writes `market`'s file, and only that one. */
const holdFirstWriteOf = (market: string) => {
  let holding = true
  return (message: unknown) => {
    const writes = ((message as { files?: { target: string }[] }).files ?? []).some((file) =>
      file.target.endsWith(`/${fileNameFor(market)}`),
    )
    if (!holding || !writes) return false
    holding = false
    return true
  }
}
/** Lets every reaction to settled promises and thread messages run. */
const turns = async (count: number) => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve))
}
const revisionOf = async (file: string) => (JSON.parse(await readFile(file, 'utf8')) as { revision: number }).revision

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
  const { code, stdout, stderr } = await finished(process_)
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

describe('a lane whose second write thread cannot be started', () => {
  it('fails only that share, and settles the batch only once the started share has landed, so no failed write lands over a later one', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir, workers: 1 })
    toClose.push(database)
    await database.open()

    // `warm` starts the lane's first thread and keeps the lane busy, so `a` and `b` go out together as the
    // next batch, split over the two threads. Thread 1 cannot be created; thread 0 is slow with `a`.
    control.hold = holdFirstWriteOf('a')
    const warm = database.store('warm', snapshot('warm', 1))
    const a1 = settled(database.store('a', snapshot('a', 1)))
    let bSettled = false
    const b1 = settled(database.store('b', snapshot('b', 1))).finally(() => {
      bSettled = true
    })
    await warm
    control.failConstructions = 1
    await turns(5)
    expect(control.held).toHaveLength(1)
    // b's share failed at once, but the batch is not over while thread 0 may still write `a`.
    expect(bSettled).toBe(false)

    // A later write of `a` waits for the batch; were the batch failed early, it would land first and the
    // held revision 1 after it.
    const a2 = settled(database.store('a', snapshot('a', 2)))
    for (const release of control.held.splice(0)) release()
    expect(await a1).toBe('stored')
    expect(await b1).toBe('rejected: Worker initialization failure: EAGAIN')
    expect(await a2).toBe('stored')
    expect(await revisionOf(database.locate('a'))).toBe(2)
    // The slot that could not start a thread starts one for a later batch: {x, b} ({w} keeps the lane
    // busy) is split over both threads again.
    const w = database.store('w', snapshot('w', 1))
    const x = database.store('x', snapshot('x', 1))
    expect(await settled(database.store('b', snapshot('b', 2)))).toBe('stored')
    await Promise.all([w, x])
    expect(await revisionOf(database.locate('b'))).toBe(2)
  })
})

describe('a write thread that dies during a write', () => {
  it('removes the temporary file it left, so the directory holds only market files before and after close()', async () => {
    const dir = await tempDir()
    // The thread ends itself (process.exit inside it) at the rename of market `dies`, after its temporary
    // file was written and fsynced: a thread killed between fsync and rename.
    control.patchSource = (source) =>
      source.replace(
        "const fs = process.getBuiltinModule('node:fs')",
        `const realFs = process.getBuiltinModule('node:fs')
         const fs = { ...realFs, renameSync: (from, to) => {
           if (String(to).includes('/dies-')) process.exit(1)
           return realFs.renameSync(from, to)
         } }`,
      )
    const cache = await MarketCache.start({ dataDir: dir, workers: 1 })
    toClose.push(cache)
    await expect(cache.market('dies').addProduct(sample)).rejects.toThrow(/write thread exited/)
    // Removed by the time the write fails, not only on close.
    expect((await readdir(dir)).filter(isTempFile)).toEqual([])
    control.patchSource = undefined
    await cache.market('lives').addProduct(sample)
    await cache.close()
    // README, cache.close(): "afterwards the directory holds only market files".
    expect((await readdir(dir)).filter((name) => !isMarketFile(name))).toEqual([])
  })
})

describe('many markets stored at once', () => {
  it('stores a burst of 2 500 markets in a process limited to 1 024 descriptors without failing any', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url))
    const dir = await tempDir()
    const script = join(await tempDir(), 'burst.mts')
    await writeFile(
      script,
      `import { MarketCache } from ${JSON.stringify(pathToFileURL(join(root, 'src/index.ts')).href)}
      const cache = await MarketCache.start({ dataDir: process.argv[2] })
      const sample = ${JSON.stringify(sample)}
      const results = await Promise.allSettled(
        Array.from({ length: 2500 }, (_, i) => cache.market('market ' + i).addProduct(sample)),
      )
      const failed = results.filter((result) => result.status === 'rejected')
      await cache.close()
      console.log(JSON.stringify({ failed: failed.length, cause: failed[0]?.reason?.cause?.code ?? null }))
      `,
    )
    // 1 024 is a common hard limit (node raises the soft limit to the hard one, so both are set here);
    // the process itself needs a few dozen descriptors. Default options: 3 lanes, 2 threads each, so a
    // share is hundreds of markets: a thread that opened every file of its share at once ran out.
    const child = spawn(
      'sh',
      ['-c', 'ulimit -n 1024 && exec "$0" --import tsx "$1" "$2"', process.execPath, script, dir],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    children.push(child)
    const { code, stdout, stderr } = await finished(child)
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ failed: 0, cause: null })
    expect((await readdir(dir)).filter(isMarketFile)).toHaveLength(2500)
  }, 60_000)
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
