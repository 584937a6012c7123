// The second outside review of the file backend's write path: each test states the correct behaviour, and
// each failed on the code before its fix.
import * as nodeFs from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { FileHandleLike } from '../src/file-database/file-system.js'
import { FileDatabase, MarketCache, PersistenceError, ValidationError } from '../src/index.js'
import { FaultyFileSystem, ioError } from './helpers/faulty-fs.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const toClose: { close(): Promise<unknown> }[] = []
afterEach(async () => {
  await Promise.all(toClose.splice(0).map((closable) => closable.close().catch(() => {})))
})

/** Both seams over the real file system, recording every directory fsync that succeeded, by path. */
class DirSyncRecorder extends FaultyFileSystem {
  readonly syncedDirs: string[] = []
  readonly #openDirs = new Map<number, string>()

  override openSync(path: string, flags: string): number {
    const fd = super.openSync(path, flags)
    if (nodeFs.fstatSync(fd).isDirectory()) this.#openDirs.set(fd, path)
    return fd
  }

  override fsyncSync(fd: number): void {
    super.fsyncSync(fd)
    const path = this.#openDirs.get(fd)
    if (path !== undefined) this.syncedDirs.push(path)
  }

  override closeSync(fd: number): void {
    this.#openDirs.delete(fd)
    super.closeSync(fd)
  }

  /** How many of the next directory fsyncs through the asynchronous seam fail with EIO. */
  failDirSyncs = 0

  override async open(path: string, flags: string): Promise<FileHandleLike> {
    const handle = await super.open(path, flags)
    const isDir = (await nodeFs.promises.stat(path)).isDirectory()
    return {
      ...handle,
      sync: async () => {
        if (isDir && this.failDirSyncs > 0) {
          this.failDirSyncs--
          throw ioError('EIO', 'fsync', path)
        }
        await handle.sync()
        if (isDir) this.syncedDirs.push(path)
      },
    }
  }
}

/** A market with one stored product, on a data directory whose directory fsyncs are recorded. */
async function marketWithOneProduct() {
  const dir = await tempDir()
  const fs = new DirSyncRecorder(dir)
  const cache = await MarketCache.start({ database: new FileDatabase({ dir, fs, syncFs: fs }) })
  toClose.push(cache)
  const market = cache.market('m')
  await market.addProduct(sample)
  return { fs, market }
}

describe('a store whose directory fsync failed', () => {
  it('releases a later read showing that change only once a directory fsync has succeeded since (a crash could still undo the rename)', async () => {
    const { fs, market } = await marketWithOneProduct()

    // The rename lands, the directory fsync after it fails: the new file is in the page cache only.
    fs.arm({ step: 'fsyncDir', code: 'EIO', times: 1 })
    await expect(market.addProduct({ ...sample, name: 'unsure' })).rejects.toBeInstanceOf(PersistenceError)
    const syncsAtFailure = fs.syncedDirs.length

    // README: "Every reply, reads included, is released only once every change applied before it is durable
    // ... A read never shows you a change that a crash could undo."
    const listed = await market.listProducts()
    const shown = listed.some((product) => product.name === 'unsure')
    expect(shown).toBe(true) // memory equals what the disk (page cache) holds, as the README says
    expect(
      fs.syncedDirs.length,
      'the read showed a rename whose directory entry no fsync has made durable',
    ).toBeGreaterThan(syncsAtFailure)
  })

  it('rejects the reads with PersistenceError while the directory cannot be fsynced, then shows the change', async () => {
    const { fs, market } = await marketWithOneProduct()
    fs.arm({ step: 'fsyncDir', code: 'EIO', times: 1 })
    fs.failDirSyncs = 2
    await expect(market.addProduct({ ...sample, name: 'unsure' })).rejects.toBeInstanceOf(PersistenceError)
    await expect(market.listProducts()).rejects.toBeInstanceOf(PersistenceError)
    await expect(market.listProducts()).rejects.toBeInstanceOf(PersistenceError)
    expect((await market.listProducts()).map((product) => product.name)).toEqual([sample.name, 'unsure'])
  })
})

describe('a data directory the database creates', () => {
  it('fsyncs the parents of the directories it created before acknowledging a change stored in them', async () => {
    const root = await tempDir()
    const dir = join(root, 'nested', 'persist')
    const fs = new DirSyncRecorder(dir)
    const cache = await MarketCache.start({ database: new FileDatabase({ dir, fs, syncFs: fs }) })
    toClose.push(cache)
    await cache.market('m').addProduct(sample)
    // `nested` is an entry of `root`, `persist` one of `nested`: until both directories are fsynced, a power
    // loss can take the whole data directory, acknowledged file included, away.
    expect([...new Set(fs.syncedDirs)].sort()).toEqual(expect.arrayContaining([root, join(root, 'nested')]))
  })
})

describe('one market of a batch', () => {
  it('fails on its own when its name cannot be mapped to a file, leaving the other markets of its batch stored', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir, workers: 1 })
    toClose.push(database)
    await database.open()
    const snapshot = (market: unknown) => ({ format: 1, market, revision: 1, products: {} })
    // `warm` keeps the only lane busy, so the next two go out together as one batch.
    const warm = database.store('warm', snapshot('warm'))
    const bad = database.store(42 as unknown as string, snapshot(42)).then(
      () => 'stored',
      () => 'rejected',
    )
    const good = database.store('good', snapshot('good')).then(
      () => 'stored',
      (error: Error) => `rejected: ${error.message}`,
    )
    await warm
    expect(await bad).toBe('rejected')
    expect(await good).toBe('stored')
  })
})

describe('option `workers`', () => {
  it('accepts 1 to 64 lanes and refuses more with ValidationError from MarketCache.start, RangeError from FileDatabase', async () => {
    for (const workers of [2 ** 32, 65, 10_000_000]) {
      await expect(MarketCache.start({ dataDir: await tempDir(), workers })).rejects.toBeInstanceOf(ValidationError)
      expect(() => new FileDatabase({ dir: 'unused', workers })).toThrow(RangeError)
    }
    const cache = await MarketCache.start({ dataDir: await tempDir(), workers: 64 })
    toClose.push(cache)
    await cache.market('m').addProduct(sample)
    expect(await cache.market('m').listProducts()).toHaveLength(1)
  })
})
