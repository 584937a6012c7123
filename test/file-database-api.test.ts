import { readdir, readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { laneIndex } from '../src/file-database/file-database.js'
import { fileNameFor } from '../src/file-database/file-names.js'
import { type FileHandleLike, type FileSystem, nodeFileSystem } from '../src/file-database/file-system.js'
import { ClosedError, DataDirLockedError, FileDatabase } from '../src/index.js'
import { FaultyFileSystem, ioError } from './helpers/faulty-fs.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const databases: FileDatabase[] = []
afterEach(async () => {
  await Promise.all(databases.splice(0).map((database) => database.close().catch(() => {})))
})

function open(options: ConstructorParameters<typeof FileDatabase>[0]): FileDatabase {
  const database = new FileDatabase(options)
  databases.push(database)
  return database
}

const LOCK = '.market-system.lock'
const snapshot = (market: string, revision = 1) => ({ format: 1, market, revision, products: {} })

/** Both seams over the real file system, recording each directory the asynchronous seam fsyncs. */
class SyncRecorder extends FaultyFileSystem {
  readonly syncedDirs: string[] = []
  override async open(path: string, flags: string): Promise<FileHandleLike> {
    const handle = await super.open(path, flags)
    return {
      ...handle,
      sync: async () => {
        await handle.sync()
        if (flags === 'r') this.syncedDirs.push(path)
      },
    }
  }
}

describe('FileDatabase options', () => {
  it('names the accepted range and the value it got when `workers` is not an integer from 1 to 64', () => {
    expect(() => new FileDatabase({ dir: 'unused', workers: 1.5 })).toThrow(
      new RangeError('Expected `workers` to be an integer from 1 to 64, got `1.5`'),
    )
  })

  it('chooses lanes by the 32-bit FNV-1a hash of the market name, the same in every process', () => {
    // FNV-1a test vectors; with 2^32 lanes the lane is the hash itself.
    expect(laneIndex('', 2 ** 32)).toBe(0x811c9dc5)
    expect(laneIndex('a', 2 ** 32)).toBe(0xe40c292c)
    expect(laneIndex('foobar', 2 ** 32)).toBe(0xbf9cf968)
    expect(laneIndex('foobar', 3)).toBe(0xbf9cf968 % 3)
  })
})

describe('FileDatabase reads', () => {
  it('returns a file holding JSON null as null', async () => {
    const dir = await tempDir()
    const database = open({ dir })
    await writeFile(database.locate('m'), 'null')
    expect(await database.get('m')).toBeNull()
  })

  it('lists no market for a market file it cannot parse, and every other market', async () => {
    const dir = await tempDir()
    const database = open({ dir })
    await database.store('a', snapshot('a'))
    await writeFile(database.locate('b'), '{"market":"b",')
    expect(await database.markets()).toEqual(['a'])
  })
})

describe('FileDatabase directory fsyncs', () => {
  it('fsyncs none of the parents of a directory that already exists', async () => {
    const dir = await tempDir()
    const fs = new SyncRecorder(dir)
    await open({ dir, fs, syncFs: fs }).open()
    expect(fs.syncedDirs.filter((path) => path !== dir)).toEqual([])
  })

  it('fsyncs none of the parents of a directory it creates with fsync off', async () => {
    const root = await tempDir()
    const dir = join(root, 'nested', 'persist')
    const fs = new SyncRecorder(dir)
    await open({ dir, fs, syncFs: fs, fsync: false }).open()
    expect(fs.syncedDirs.filter((path) => path !== dir)).toEqual([])
  })

  it('fsyncs each directory it creates up to the first that existed', async () => {
    const root = await tempDir()
    const dir = join(root, 'nested', 'persist')
    const fs = new SyncRecorder(dir)
    await open({ dir, fs, syncFs: fs }).open()
    expect(fs.syncedDirs.filter((path) => path !== dir).sort()).toEqual([root, dirname(dir)].sort())
  })

  it('fsyncs the directory for the first read after a failed write only, and for no read after writes that succeeded', async () => {
    const dir = await tempDir()
    const fs = new SyncRecorder(dir)
    const database = open({ dir, fs, syncFs: fs })
    await database.open()
    await database.store('m', snapshot('m'))
    let synced = fs.syncedDirs.length
    expect(await database.get('m')).toEqual(snapshot('m'))
    expect(await database.markets()).toEqual(['m'])
    expect(fs.syncedDirs.length).toBe(synced)

    fs.arm({ step: 'rename', code: 'EIO', times: 1 })
    await expect(database.store('m', snapshot('m', 2))).rejects.toMatchObject({ code: 'EIO' })
    synced = fs.syncedDirs.length
    expect(await database.get('m')).toEqual(snapshot('m'))
    expect(fs.syncedDirs.slice(synced)).toEqual([dir])
    expect(await database.get('m')).toEqual(snapshot('m'))
    expect(await database.markets()).toEqual(['m'])
    expect(fs.syncedDirs.slice(synced)).toEqual([dir])
  })

  it('with fsync off, fsyncs no directory for a read after a failed write', async () => {
    const dir = await tempDir()
    const fs = new SyncRecorder(dir)
    const database = open({ dir, fs, syncFs: fs, fsync: false })
    await database.open()
    fs.arm({ step: 'rename', code: 'EIO', times: 1 })
    await expect(database.store('m', snapshot('m'))).rejects.toMatchObject({ code: 'EIO' })
    const synced = fs.syncedDirs.length
    expect(await database.get('m')).toBeUndefined()
    expect(await database.markets()).toEqual([])
    expect(fs.syncedDirs.length).toBe(synced)
  })
})

describe('FileDatabase open and close', () => {
  it('fails to open, holding no lock, when it cannot list the directory, then opens once that clears', async () => {
    const dir = await tempDir()
    let failing = true
    const fs: FileSystem = {
      ...nodeFileSystem,
      readdir: async (path) => {
        if (failing) throw ioError('EIO', 'scandir', path)
        return nodeFileSystem.readdir(path)
      },
    }
    const database = open({ dir, fs })
    await expect(database.open()).rejects.toMatchObject({ code: 'EIO' })
    expect(await readdir(dir)).toEqual([])
    failing = false
    await database.open()
    expect(await readdir(dir)).toEqual([LOCK])
  })

  it('closes while failing to open a directory another owner holds, touching none of its files', async () => {
    const dir = await tempDir()
    const owner = JSON.stringify({ pid: process.ppid, host: hostname(), token: 'other-owner' })
    const inFlight = `${fileNameFor('m')}.0123456789abcdef.tmp`
    await writeFile(join(dir, LOCK), owner)
    await writeFile(join(dir, inFlight), '{"half')
    const database = open({ dir })
    const opening = database.open()
    const closing = database.close()
    await expect(opening).rejects.toBeInstanceOf(DataDirLockedError)
    await expect(closing).resolves.toBeUndefined()
    expect((await readdir(dir)).sort()).toEqual([inFlight, LOCK].sort())
    expect(await readFile(join(dir, LOCK), 'utf8')).toBe(owner)
  })

  it('names itself in the ClosedError of a call after close', async () => {
    const dir = await tempDir()
    const database = open({ dir })
    await database.close()
    await expect(database.open()).rejects.toThrow(new ClosedError('FileDatabase'))
    await expect(database.store('m', snapshot('m'))).rejects.toThrow('FileDatabase is closed')
  })
})
