import { createHash } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DirLock, LOCK_FILE } from '../src/file-database/dir-lock.js'
import { type FileSystem, nodeFileSystem } from '../src/file-database/file-system.js'
import { DataDirLockedError } from '../src/index.js'
import { ioError } from './helpers/faulty-fs.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()

/** A lock naming the process that started this test run: alive for as long as the test runs. */
const liveOwner = (token = 'live-owner') => JSON.stringify({ pid: process.ppid, host: hostname(), token })
/** The name of the takeover guard superseding a lock file's exact `text`, as every version of the lock names it. */
const guardOf = (text: string) =>
  `${LOCK_FILE}.takeover-${createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32)}`
const lockText = (dir: string) => readFile(join(dir, LOCK_FILE), 'utf8')

describe('DirLock refusing a directory', () => {
  it('leaves nothing of its own behind when a live owner holds the lock', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK_FILE), liveOwner())
    await expect(DirLock.acquire(nodeFileSystem, dir)).rejects.toMatchObject({ ownerPid: process.ppid })
    expect(await readdir(dir)).toEqual([LOCK_FILE])
    expect(await lockText(dir)).toBe(liveOwner())
  })

  it('refuses while a live starter is taking over a dead lock', async () => {
    const dir = await tempDir()
    const dead = 'torn by a power loss'
    await writeFile(join(dir, LOCK_FILE), dead)
    await writeFile(join(dir, guardOf(dead)), liveOwner('taker'))
    await expect(DirLock.acquire(nodeFileSystem, dir)).rejects.toMatchObject({
      code: 'DATA_DIR_LOCKED',
      ownerPid: process.ppid,
    })
    expect(await lockText(dir)).toBe(dead)
  })

  it('refuses rather than loop forever over takeover guards that supersede each other in a cycle', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK_FILE), 'torn a')
    await writeFile(join(dir, guardOf('torn a')), 'torn b')
    await writeFile(join(dir, guardOf('torn b')), 'torn a')
    const error = await DirLock.acquire(nodeFileSystem, dir).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DataDirLockedError)
    expect((error as DataDirLockedError).ownerPid).toBeUndefined()
  })
})

describe('DirLock taking over a lock', () => {
  it('takes the lock when its owner releases it between our attempt to link and our read of it', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK_FILE), liveOwner())
    let released = false
    const racing: FileSystem = {
      ...nodeFileSystem,
      readFile: async (path, encoding) => {
        if (path === join(dir, LOCK_FILE) && !released) {
          released = true
          await nodeFileSystem.unlink(path)
        }
        return nodeFileSystem.readFile(path, encoding)
      },
    }
    const lock = await DirLock.acquire(racing, dir)
    expect(JSON.parse(await lockText(dir))).toMatchObject({ pid: process.pid })
    await lock.release()
    expect(await readdir(dir)).toEqual([])
  })

  it('tries again when its temporary lock file was removed before its rename, as a new owner removes leftovers', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK_FILE), '')
    let removed = false
    const racing: FileSystem = {
      ...nodeFileSystem,
      rename: async (from, to) => {
        if (!removed) {
          removed = true
          await nodeFileSystem.unlink(from)
        }
        await nodeFileSystem.rename(from, to)
      },
    }
    const lock = await DirLock.acquire(racing, dir)
    expect(removed).toBe(true)
    expect(JSON.parse(await lockText(dir))).toMatchObject({ pid: process.pid })
    await lock.release()
    expect(await readdir(dir)).toEqual([])
  })

  it('reports an I/O error of its rename as it is, leaving the old lock in place', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK_FILE), '')
    let failed = false
    const failing: FileSystem = {
      ...nodeFileSystem,
      rename: async (from, to) => {
        if (failed) return nodeFileSystem.rename(from, to)
        failed = true
        throw ioError('EIO', 'rename', from)
      },
    }
    await expect(DirLock.acquire(failing, dir)).rejects.toMatchObject({ code: 'EIO' })
    expect(await lockText(dir)).toBe('')
  })

  it('fails, holding nothing, when the directory cannot be fsynced after the lock is linked', async () => {
    const dir = await tempDir()
    const failing: FileSystem = {
      ...nodeFileSystem,
      open: async (path, flags) => {
        const handle = await nodeFileSystem.open(path, flags)
        if (path !== dir) return handle
        return { ...handle, sync: () => Promise.reject(ioError('EIO', 'fsync', path)), close: () => handle.close() }
      },
    }
    await expect(DirLock.acquire(failing, dir)).rejects.toMatchObject({ code: 'EIO' })
    expect(await readdir(dir)).toEqual([])
  })

  it('removes only its own leftovers, keeping files that merely look temporary or share its prefix', async () => {
    const dir = await tempDir()
    const others = [`${LOCK_FILE}.notes`, 'other.json.0123456789abcdef.tmp']
    for (const name of others) await writeFile(join(dir, name), 'kept')
    await writeFile(join(dir, `${LOCK_FILE}.0123456789abcdef.tmp`), 'crashed')
    const lock = await DirLock.acquire(nodeFileSystem, dir)
    expect((await readdir(dir)).sort()).toEqual([LOCK_FILE, ...others].sort())
    await lock.release()
    expect((await readdir(dir)).sort()).toEqual([...others].sort())
  })
})

describe('DirLock.release', () => {
  it('does nothing when called again', async () => {
    const dir = await tempDir()
    const lock = await DirLock.acquire(nodeFileSystem, dir)
    await lock.release()
    await writeFile(join(dir, LOCK_FILE), liveOwner())
    await expect(lock.release()).resolves.toBeUndefined()
    expect(await lockText(dir)).toBe(liveOwner())
  })

  it('leaves alone a lock file overwritten with text that is not a lock', async () => {
    const dir = await tempDir()
    const lock = await DirLock.acquire(nodeFileSystem, dir)
    await writeFile(join(dir, LOCK_FILE), 'written by hand')
    await expect(lock.release()).resolves.toBeUndefined()
    expect(await lockText(dir)).toBe('written by hand')
  })

  it('reports an I/O error removing the lock file', async () => {
    const dir = await tempDir()
    const failing: FileSystem = {
      ...nodeFileSystem,
      unlink: async (path) => {
        if (path === join(dir, LOCK_FILE)) throw ioError('EIO', 'unlink', path)
        await nodeFileSystem.unlink(path)
      },
    }
    const lock = await DirLock.acquire(failing, dir)
    await expect(lock.release()).rejects.toMatchObject({ code: 'EIO' })
  })
})
