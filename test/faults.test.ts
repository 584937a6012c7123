import { spawn } from 'node:child_process'
import * as nodeFs from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { laneIndex } from '../src/file-database/file-database.js'
import { fileNameFor, isTempFile } from '../src/file-database/file-names.js'
import { type FileSystem, nodeFileSystem } from '../src/file-database/file-system.js'
import {
  ClosedError,
  type Database,
  DataDirLockedError,
  FileDatabase,
  MarketCache,
  PersistenceError,
} from '../src/index.js'
import { FaultyFileSystem, ioError } from './helpers/faulty-fs.js'
import type { WriteFaultStep } from './helpers/faulty-sync-fs.js'
import { MemoryDatabase } from './helpers/memory-database.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close().catch(() => {})))
})

/** A cache whose FileDatabase writes through the production durable replace on this thread, with faults armed per call. */
async function start(options: { workers?: number } = {}) {
  const dir = await tempDir()
  const fs = new FaultyFileSystem(dir)
  const database = new FileDatabase({ dir, fs, syncFs: fs, ...options })
  const cache = await MarketCache.start({ database })
  caches.push(cache)
  return { dir, fs, cache }
}

interface StoredFile {
  revision: number
  products: Record<string, unknown>
}

async function readStored(dir: string, market: string): Promise<StoredFile> {
  // JSON.parse throws on a torn file, so reading is also the parseability check.
  return JSON.parse(await readFile(join(dir, fileNameFor(market)), 'utf8')) as StoredFile
}

async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(isTempFile)
}

const WRITE_STEPS: WriteFaultStep[] = ['open', 'write', 'shortWrite', 'fsyncFile', 'close', 'rename', 'fsyncDir']
const CODES = ['EIO', 'ENOSPC', 'EACCES', 'EMFILE']

/**
 * One store fails at `step`; the caller sees `PersistenceError` caused by `code`, the old file stays
 * byte-identical (or, after the rename, the new one is whole), no temp file is left, memory equals disk
 * after the reload, and the next write succeeds.
 */
async function failOneStore(step: WriteFaultStep, code: string) {
  const { dir, fs, cache } = await start()
  const market = cache.market('m')
  const first = await market.addProduct(sample)
  const before = await readFile(join(dir, fileNameFor('m')), 'utf8')

  fs.arm({ step, code, times: 1 })
  const error = await market.addProduct({ ...sample, name: 'lost' }).catch((e: unknown) => e)
  expect(error).toBeInstanceOf(PersistenceError)
  expect(fs.injected).toHaveLength(1)
  const cause = (error as PersistenceError).cause as NodeJS.ErrnoException
  // A write that makes no progress has no error of its own: the writer reports the device as full.
  if (step === 'zeroWrite') expect(cause.code).toBe('ENOSPC')
  else expect(cause).toMatchObject({ code, message: (fs.injected[0] as Error).message })

  const stored = await readStored(dir, 'm')
  if (step === 'fsyncDir') {
    // The rename already happened and cannot be undone: the new file is in place, only its
    // durability is unknown. The actor reloads, so memory shows exactly what the disk holds.
    expect(stored.revision).toBe(2)
  } else {
    expect(await readFile(join(dir, fileNameFor('m')), 'utf8')).toBe(before)
    expect(stored.revision).toBe(1)
  }
  expect(await tempFiles(dir)).toEqual([])
  const listed = await market.listProducts()
  expect(Object.fromEntries(listed.map(({ id, ...product }) => [id, product]))).toEqual(stored.products)
  expect(listed.map(({ id }) => id)).toContain(first)

  const next = await market.addProduct({ ...sample, name: 'after' })
  const after = await readStored(dir, 'm')
  expect(after.revision).toBe(stored.revision + 1)
  expect(after.products[next]).toEqual({ ...sample, name: 'after' })
  expect(Object.keys(after.products)).toHaveLength(Object.keys(stored.products).length + 1)
  expect(await tempFiles(dir)).toEqual([])
}

describe('a store that fails at one step of the durable replace', () => {
  describe.each(WRITE_STEPS)('failing %s', (step) => {
    it.each(CODES)(
      'rejects with PersistenceError caused by %s, keeps disk and memory consistent, then recovers',
      (code) => failOneStore(step, code),
    )
  })

  it('reports a write that makes no progress as ENOSPC instead of looping forever, keeping disk and memory consistent', () =>
    failOneStore('zeroWrite', 'ENOSPC'))
})

describe('storage faults beyond a single failed step', () => {
  it('continues a write the device accepted only in part', async () => {
    const { dir, fs, cache } = await start()
    fs.arm({ step: 'shortWrite', code: 'NONE', times: 1 })
    const id = await cache.market('m').addProduct(sample)
    expect((await readStored(dir, 'm')).products[id]).toEqual(sample)
  })

  it('keeps rejecting while a fault persists over several writes, then writes everything asked after it clears', async () => {
    const { dir, fs, cache } = await start()
    const market = cache.market('m')
    const kept = await market.addProduct(sample)
    fs.arm({ step: 'fsyncFile', code: 'EIO', times: 3 })

    for (let i = 0; i < 3; i++) {
      await expect(market.addProduct({ ...sample, name: `lost ${i}` })).rejects.toBeInstanceOf(PersistenceError)
      expect((await readStored(dir, 'm')).revision).toBe(1)
    }
    expect(fs.injected).toHaveLength(3)
    const next = await market.addProduct({ ...sample, name: 'after' })
    expect((await market.listProducts()).map(({ id }) => id)).toEqual([kept, next])
    expect(Object.keys((await readStored(dir, 'm')).products)).toEqual([kept, next])
    expect(await tempFiles(dir)).toEqual([])
  })

  it('rejects every overlapping change the failed store carried and none that was already durable', async () => {
    const { dir, fs, cache } = await start()
    const market = cache.market('m')
    const id = await market.addProduct(sample)
    fs.arm({ step: 'rename', code: 'ENOSPC', times: 1 })
    const results = await Promise.allSettled([
      market.adjustQuantity(id, 1),
      market.adjustQuantity(id, 1),
      market.getProduct(id),
      market.adjustQuantity(id, -100),
    ])
    for (const result of results) {
      expect(result.status).toBe('rejected')
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(PersistenceError)
    }
    expect(await market.getProduct(id)).toEqual(sample)
    expect((await readStored(dir, 'm')).products[id]).toEqual(sample)
  })

  it('fails only the market whose file is faulted while markets on other lanes keep writing', async () => {
    const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon']
    const faulted = names[0] as string
    const healthy = names.find((name) => laneIndex(name, 3) !== laneIndex(faulted, 3)) as string
    const { dir, fs, cache } = await start({ workers: 3 })
    fs.arm({ step: 'write', code: 'EIO', times: Number.POSITIVE_INFINITY, filePrefix: fileNameFor(faulted) })

    for (let i = 0; i < 3; i++) {
      await expect(cache.market(faulted).addProduct(sample)).rejects.toBeInstanceOf(PersistenceError)
      await cache.market(healthy).addProduct({ ...sample, quantity: i })
    }
    expect((await readStored(dir, healthy)).revision).toBe(3)
    await expect(readFile(join(dir, fileNameFor(faulted)))).rejects.toMatchObject({ code: 'ENOENT' })

    fs.clear()
    await cache.market(faulted).addProduct(sample)
    expect((await readStored(dir, faulted)).revision).toBe(1)
  })
})

describe('a load that fails to read', () => {
  it.each(['EIO', 'EACCES'])(
    'rejects with PersistenceError caused by %s and loads again on the next call',
    async (code) => {
      const { fs, dir } = await start()
      const seed = caches.pop() as MarketCache
      const id = await seed.market('m').addProduct(sample)
      await seed.close()

      const cache = await MarketCache.start({ database: new FileDatabase({ dir, fs }) })
      caches.push(cache)
      fs.arm({ step: 'read', code, times: 1 })
      const queued = [cache.market('m').getProduct(id), cache.market('m').addProduct(sample)]
      for (const result of await Promise.allSettled(queued)) {
        expect(result.status).toBe('rejected')
        const reason = (result as PromiseRejectedResult).reason as PersistenceError
        expect(reason).toBeInstanceOf(PersistenceError)
        expect((reason.cause as NodeJS.ErrnoException).code).toBe(code)
      }
      expect(await cache.market('m').getProduct(id)).toEqual(sample)
      expect(await cache.market('other').listProducts()).toEqual([])
    },
  )
})

describe('storage faults at the edges of a write', () => {
  it('never fsyncs with fsync off, yet still replaces the file whole', async () => {
    const dir = await tempDir()
    const fs = new FaultyFileSystem(dir)
    const cache = await MarketCache.start({ database: new FileDatabase({ dir, fs, syncFs: fs, fsync: false }) })
    caches.push(cache)
    fs.arm({ step: 'fsyncFile', code: 'EIO', times: 1 })
    fs.arm({ step: 'fsyncDir', code: 'EIO', times: 1 })
    const id = await cache.market('m').addProduct(sample)
    expect(fs.injected).toEqual([])
    expect((await readStored(dir, 'm')).products[id]).toEqual(sample)
  })

  it('removes on close a temporary file whose unlink failed after a failed rename, so the directory holds only market files', async () => {
    const { dir, fs, cache } = await start()
    await cache.market('m').addProduct(sample)
    fs.arm({ step: 'rename', code: 'EIO', times: 1 })
    const unlinkSync = fs.unlinkSync.bind(fs)
    let unlinkFails = true
    fs.unlinkSync = (path) => {
      if (!unlinkFails) return unlinkSync(path)
      unlinkFails = false
      throw ioError('EIO', 'unlink', path)
    }
    await expect(cache.market('m').addProduct(sample)).rejects.toBeInstanceOf(PersistenceError)
    expect(unlinkFails).toBe(false)
    expect(await tempFiles(dir)).toHaveLength(1)
    await cache.close()
    expect(await readdir(dir)).toEqual([fileNameFor('m')])
  })

  it('turns a Database whose store throws synchronously into PersistenceError and reloads', async () => {
    const inner = new MemoryDatabase()
    const boom = new Error('store threw')
    let fail = true
    const database: Database = {
      get: (market) => inner.get(market),
      store: (market, snapshot) => {
        if (fail) throw boom
        return inner.store(market, snapshot)
      },
      markets: () => inner.markets(),
      close: () => inner.close(),
    }
    const cache = await MarketCache.start({ database })
    caches.push(cache)
    const error = await cache
      .market('m')
      .addProduct(sample)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PersistenceError)
    expect((error as PersistenceError).cause).toBe(boom)
    expect(await cache.market('m').listProducts()).toEqual([])
    fail = false
    await cache.market('m').addProduct(sample)
    expect(inner.stored('m')?.revision).toBe(1)
  })
})

/** The pid of a process that has exited, so a lock naming it is stale. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise((resolve) => child.once('exit', resolve))
  return child.pid as number
}

const LOCK = '.market-system.lock'
const lockOwner = (fields: Record<string, unknown>) =>
  JSON.stringify({ host: hostname(), token: 'stale-token', ...fields })

describe('faults around the directory lock', () => {
  it('takes over a lock whose owner died, even after an abandoned takeover by another dead process', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK), lockOwner({ pid: await deadPid() }))
    await writeFile(join(dir, `${LOCK}.takeover`), lockOwner({ pid: await deadPid(), token: 'guard' }))
    const cache = await MarketCache.start({ dataDir: dir })
    await cache.market('m').addProduct(sample)
    await cache.close()
    expect((await readdir(dir)).sort()).toEqual([fileNameFor('m')])
  })

  it('takes over a lock whose pid now belongs to a process started at another time (a recycled pid)', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK), lockOwner({ pid: process.ppid, started: '1' }))
    const cache = await MarketCache.start({ dataDir: dir })
    await cache.close()
    expect(await readdir(dir)).toEqual([])
  })

  it.each([
    ['a live process on this machine', () => lockOwner({ pid: process.ppid }), process.ppid],
    ['a process on another machine', () => lockOwner({ pid: 1, host: `not-${hostname()}` }), 1],
  ])('refuses a directory locked by %s and leaves the lock alone', async (_title, content, pid) => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK), content())
    const error = await MarketCache.start({ dataDir: dir }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DataDirLockedError)
    expect((error as DataDirLockedError).ownerPid).toBe(pid)
    expect(await readFile(join(dir, LOCK), 'utf8')).toBe(content())
  })

  it('removes the temporary lock file of a failed acquisition, so a closed directory holds only market files', async () => {
    const dir = await tempDir()
    const fs = new FaultyFileSystem(dir)
    fs.arm({ step: 'writeLock', code: 'ENOSPC', times: 1 })
    const database = new FileDatabase({ dir, fs })
    await expect(MarketCache.start({ database })).rejects.toBeInstanceOf(PersistenceError)
    expect(fs.injected).toHaveLength(1)
    const cache = await MarketCache.start({ database })
    await cache.market('m').addProduct(sample)
    await cache.close()
    expect(await readdir(dir)).toEqual([fileNameFor('m')])
  })

  it('removes a lock temporary file left by a process killed while taking the lock', async () => {
    const dir = await tempDir()
    // A kill between writing the temporary lock file and linking it into place.
    let leftover = ''
    const killedWhileLinking: FileSystem = {
      ...nodeFileSystem,
      link: async (existing) => {
        leftover = existing
        await nodeFs.promises.copyFile(existing, `${existing}.kept`)
        throw ioError('EIO', 'link', existing)
      },
    }
    await expect(new FileDatabase({ dir, fs: killedWhileLinking }).open()).rejects.toMatchObject({ code: 'EIO' })
    // Put back the temporary file the killed process would have left, under the name it had.
    await nodeFs.promises.rename(`${leftover}.kept`, leftover)
    const cache = await MarketCache.start({ dataDir: dir })
    await cache.close()
    expect(await readdir(dir)).toEqual([])
  })

  it('reports DataDirLockedError when the owner removes our temporary lock file as a leftover while we link it', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK), lockOwner({ pid: process.ppid }))
    const fs = new FaultyFileSystem(dir)
    fs.arm({ step: 'link', code: 'ENOENT', times: 1 })
    const error = await MarketCache.start({ database: new FileDatabase({ dir, fs }) }).catch((e: unknown) => e)
    expect(fs.injected).toHaveLength(1)
    expect(error).toBeInstanceOf(DataDirLockedError)
    expect((await readdir(dir)).filter(isTempFile)).toEqual([])
  })

  it.each([
    ['reading the lock', 'readLock' as const, 'EACCES'],
    ['linking the lock into place', 'link' as const, 'EIO'],
  ])('reports an error %s at start as PersistenceError, then starts once it clears', async (_title, step, code) => {
    const dir = await tempDir()
    const fs = new FaultyFileSystem(dir)
    if (step === 'readLock') await writeFile(join(dir, LOCK), lockOwner({ pid: await deadPid() }))
    fs.arm({ step, code, times: 1 })
    const database = new FileDatabase({ dir, fs })
    const error = await MarketCache.start({ database }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PersistenceError)
    expect((error as PersistenceError).cause).toBe(fs.injected[0])
    const cache = await MarketCache.start({ database })
    await cache.market('m').addProduct(sample)
    await cache.close()
    expect(await readdir(dir)).toEqual([fileNameFor('m')])
  })
})

describe('a fault on the default write threads, end to end', () => {
  it('rejects with PersistenceError carrying the error code from the write thread, then recovers', async () => {
    const dir = await tempDir()
    const cache = await MarketCache.start({ dataDir: dir })
    caches.push(cache)
    const market = cache.market('m')
    await market.addProduct(sample)
    // A non-empty directory where the file should be: the rename in the write thread fails even for root.
    const target = join(dir, fileNameFor('m'))
    nodeFs.rmSync(target)
    nodeFs.mkdirSync(target)
    nodeFs.writeFileSync(join(target, 'keep'), '')

    const error = await market.addProduct(sample).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PersistenceError)
    expect(['EISDIR', 'ENOTEMPTY', 'EEXIST']).toContain(
      ((error as PersistenceError).cause as NodeJS.ErrnoException).code,
    )
    expect(await tempFiles(dir)).toEqual([])
    await cache.market('other').addProduct(sample)
    // The reload that follows the failure cannot read a directory either; this call waits behind it,
    // so the directory is removed only once that reload is over.
    await expect(market.listProducts()).rejects.toBeInstanceOf(PersistenceError)

    nodeFs.rmSync(target, { recursive: true })
    const id = await market.addProduct(sample)
    expect(Object.keys((await readStored(dir, 'm')).products)).toEqual([id])
  })
})

describe('FileDatabase lifecycle edges', () => {
  it('closes without ever opening, creating nothing', async () => {
    const dir = join(await tempDir(), 'never')
    await new FileDatabase({ dir }).close()
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('rejects open and store after close with ClosedError and writes nothing', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir })
    await database.open()
    await database.close()
    await expect(database.open()).rejects.toBeInstanceOf(ClosedError)
    await expect(database.store('m', { format: 1, market: 'm', revision: 1, products: {} })).rejects.toBeInstanceOf(
      ClosedError,
    )
    expect(await readdir(dir)).toEqual([])
  })
})
