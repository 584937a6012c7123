import { readdir, readlink, realpath } from 'node:fs/promises'
import { describe, expect, it, vi } from 'vitest'
import { fileNameFor } from '../src/file-database/file-names.js'
import { type FileHandleLike, type FileSystem, nodeFileSystem } from '../src/file-database/file-system.js'
import { FileDatabase } from '../src/index.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()

const snapshot = (market: string) => ({ format: 1, market, revision: 1, products: {} })

/** How many descriptors of this process, on any of its threads, are open on `path` (Linux, from /proc). */
async function descriptorsOn(path: string): Promise<number> {
  const target = await realpath(path)
  let count = 0
  for (const fd of await readdir('/proc/self/fd')) {
    // The descriptor readdir itself used is closed by now.
    const link = await readlink(`/proc/self/fd/${fd}`).catch(() => undefined)
    if (link === target) count++
  }
  return count
}

/** The real file system, recording the paths of the handles it opens, and of those not closed yet. */
class OpenHandles implements FileSystem {
  readonly opened: string[] = []
  readonly unclosed: string[] = []
  readonly readFile = nodeFileSystem.readFile
  readonly readdir = nodeFileSystem.readdir
  readonly mkdir = nodeFileSystem.mkdir
  readonly rename = nodeFileSystem.rename
  readonly link = nodeFileSystem.link
  readonly unlink = nodeFileSystem.unlink

  async open(path: string, flags: string): Promise<FileHandleLike> {
    const handle = await nodeFileSystem.open(path, flags)
    this.opened.push(path)
    this.unclosed.push(path)
    return {
      write: (buffer, offset, length, position) => handle.write(buffer, offset, length, position),
      sync: () => handle.sync(),
      close: async () => {
        await handle.close()
        this.unclosed.splice(this.unclosed.indexOf(path), 1)
      },
    }
  }
}

describe('FileDatabase.close', () => {
  it('leaves only the market files behind, and they read back after a restart', async () => {
    const dir = await tempDir()
    const writer = new FileDatabase({ dir })
    await writer.store('Anna', snapshot('Anna'))
    await writer.close()
    expect(await readdir(dir)).toEqual([fileNameFor('Anna')])

    // The lock's modules loaded afresh: its file names and how it describes this process are module-level values,
    // and a mutation tool's mutant of one is active only in a module loaded while the test runs.
    vi.resetModules()
    const fresh = (await import(
      '../src/file-database/dir-lock.js'
    )) as typeof import('../src/file-database/dir-lock.js')
    const lock = await fresh.DirLock.acquire(nodeFileSystem, dir)
    await lock.release()
    expect(await readdir(dir)).toEqual([fileNameFor('Anna')])

    const reader = new FileDatabase({ dir })
    expect(await reader.get('Anna')).toEqual(snapshot('Anna'))
    await reader.close()
    expect(await readdir(dir)).toEqual([fileNameFor('Anna')])
  })

  it('ends its write threads, so no descriptor of the data directory stays open', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir, workers: 1 })
    await database.store('Anna', snapshot('Anna'))
    // The write thread keeps the directory open between writes, to fsync it after each rename.
    expect(await descriptorsOn(dir)).toBe(1)

    await database.close()
    expect(await descriptorsOn(dir)).toBe(0)
  })

  it('closes every file it opened to take, fsync and release the directory lock', async () => {
    const dir = await tempDir()
    const fs = new OpenHandles()
    const database = new FileDatabase({ dir, fs })
    await database.open()
    // The lock is written to a temporary file, then the directory fsynced once it is linked into place.
    expect(fs.opened).toEqual([expect.stringMatching(/\/\.market-system\.lock\.[0-9a-f]{16}\.tmp$/), dir])
    expect(fs.unclosed).toEqual([])
    await database.close()
    expect(fs.unclosed).toEqual([])
  })
})
