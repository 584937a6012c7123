import { spawn, spawnSync } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DirLock, LOCK_FILE } from '../src/file-database/dir-lock.js'
import { type FileHandleLike, type FileSystem, nodeFileSystem } from '../src/file-database/file-system.js'
import { DataDirLockedError } from '../src/index.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const sleepers: ReturnType<typeof spawn>[] = []
afterEach(() => {
  for (const sleeper of sleepers.splice(0)) sleeper.kill('SIGKILL')
})

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(child.stdout)
}

async function writeLock(dir: string, owner: Record<string, unknown>) {
  await writeFile(join(dir, LOCK_FILE), JSON.stringify({ token: 'stale-token', started: null, ...owner }))
}

describe('DirLock', () => {
  it('takes over at once a lock whose owner has exited', async () => {
    const dir = await tempDir()
    await writeLock(dir, { pid: deadPid(), host: hostname() })
    const lock = await DirLock.acquire(nodeFileSystem, dir)
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid })
    await lock.release()
    expect(await readdir(dir)).toEqual([])
  })

  it('releases without an error when its lock file disappears between the check and the unlink', async () => {
    const dir = await tempDir()
    const vanishing: FileSystem = {
      ...nodeFileSystem,
      unlink: async (path) => {
        await nodeFileSystem.unlink(path)
        // The directory is removed under the owner (a test's cleanup, an operator): the unlink finds nothing.
        if (path === join(dir, LOCK_FILE)) await nodeFileSystem.unlink(path)
      },
    }
    const lock = await DirLock.acquire(vanishing, dir)
    await expect(lock.release()).resolves.toBeUndefined()
    expect(await readdir(dir)).toEqual([])
  })

  it('takes over a lock whose pid now belongs to a different, younger process', async () => {
    const dir = await tempDir()
    const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
    sleepers.push(sleeper)
    await writeLock(dir, { pid: sleeper.pid, host: hostname(), started: '1' })
    const lock = await DirLock.acquire(nodeFileSystem, dir)
    await lock.release()
  })

  it('refuses a lock held by a live process', async () => {
    const dir = await tempDir()
    const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
    sleepers.push(sleeper)
    await writeLock(dir, { pid: sleeper.pid, host: hostname() })
    await expect(DirLock.acquire(nodeFileSystem, dir)).rejects.toMatchObject({
      code: 'DATA_DIR_LOCKED',
      ownerPid: sleeper.pid,
    })
  })

  it('never steals a lock held from another host, whose processes it cannot see', async () => {
    const dir = await tempDir()
    await writeLock(dir, { pid: deadPid(), host: `not-${hostname()}` })
    await expect(DirLock.acquire(nodeFileSystem, dir)).rejects.toBeInstanceOf(DataDirLockedError)
  })

  it('lets exactly one of many concurrent starters take over a stale lock', async () => {
    const dir = await tempDir()
    await writeLock(dir, { pid: deadPid(), host: hostname() })
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => DirLock.acquire(nodeFileSystem, dir)))
    const winners = results.filter((result) => result.status === 'fulfilled')
    expect(winners).toHaveLength(1)
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(DataDirLockedError)
    }
    await (winners[0] as PromiseFulfilledResult<DirLock>).value.release()
    expect(await readdir(dir)).toEqual([])
  })

  it('writes the whole lock file even when the file system writes a few bytes at a time', async () => {
    const dir = await tempDir()
    const trickling: FileSystem = {
      ...nodeFileSystem,
      open: async (path, flags) => {
        const handle = await nodeFileSystem.open(path, flags)
        return {
          write: (buffer, offset, length, position) => handle.write(buffer, offset, Math.min(length, 5), position),
          sync: () => handle.sync(),
          close: () => handle.close(),
        }
      },
    }
    const lock = await DirLock.acquire(trickling, dir)
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid })
    await lock.release()
  })

  it('leaves a lock alone on release when another owner has replaced it', async () => {
    const dir = await tempDir()
    const lock = await DirLock.acquire(nodeFileSystem, dir)
    await writeLock(dir, { pid: 1, host: hostname(), token: 'someone-else' })
    await lock.release()
    expect(await readdir(dir)).toEqual([LOCK_FILE])
  })

  it('takes over at once a lock recorded with this pid by an earlier process, as after a crash as PID 1', async () => {
    const dir = await tempDir()
    await writeLock(dir, { pid: process.pid, host: hostname(), started: '1', token: 'earlier-process' })
    const lock = await DirLock.acquire(nodeFileSystem, dir)
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid })
    await lock.release()
  })

  it('refuses a lock that another copy of the module in this process holds, as the ESM and CJS builds can be', async () => {
    const dir = await tempDir()
    const first = await DirLock.acquire(nodeFileSystem, dir)
    vi.resetModules()
    const copy = (await import('../src/file-database/dir-lock.js')) as typeof import('../src/file-database/dir-lock.js')
    expect(copy.DirLock).not.toBe(DirLock)
    await expect(copy.DirLock.acquire(nodeFileSystem, dir)).rejects.toMatchObject({
      code: 'DATA_DIR_LOCKED',
      ownerPid: process.pid,
    })
    await first.release()
    const second = await copy.DirLock.acquire(nodeFileSystem, dir)
    await second.release()
  })

  it('refuses a second lock on the same directory in this process until the first is released', async () => {
    const dir = await tempDir()
    const first = await DirLock.acquire(nodeFileSystem, dir)
    await expect(DirLock.acquire(nodeFileSystem, dir)).rejects.toMatchObject({
      code: 'DATA_DIR_LOCKED',
      ownerPid: process.pid,
    })
    await first.release()
    const second = await DirLock.acquire(nodeFileSystem, dir)
    await second.release()
  })

  it.each([
    ['empty, as a power loss can leave it', ''],
    ['cut short in the middle of its JSON', JSON.stringify({ pid: 1, host: hostname(), token: 'torn' }).slice(0, 20)],
    ['JSON that names no owner', '{}'],
  ])('takes over a lock file that is %s', async (_title, text) => {
    const dir = await tempDir()
    await writeFile(join(dir, LOCK_FILE), text)
    const lock = await DirLock.acquire(nodeFileSystem, dir)
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid })
    await lock.release()
    expect(await readdir(dir)).toEqual([])
  })

  it('removes the takeover guards and temporary lock files crashes left, so a released directory is empty', async () => {
    const dir = await tempDir()
    const dead = JSON.stringify({ pid: deadPid(), host: hostname(), started: null, token: 'crashed-taker' })
    await writeFile(join(dir, `${LOCK_FILE}.takeover`), dead)
    await writeFile(join(dir, `${LOCK_FILE}.takeover-0123456789abcdef0123456789abcdef`), dead)
    await writeFile(join(dir, `${LOCK_FILE}.0123456789abcdef.tmp`), dead)
    await writeFile(join(dir, 'other.json'), '{}')
    const lock = await DirLock.acquire(nodeFileSystem, dir)
    await lock.release()
    expect(await readdir(dir)).toEqual(['other.json'])
  })

  it('removes on release the leftovers that crashed starters left while it held the lock', async () => {
    const dir = await tempDir()
    const lock = await DirLock.acquire(nodeFileSystem, dir)
    const dead = JSON.stringify({ pid: deadPid(), host: hostname(), started: null, token: 'crashed-starter' })
    await writeFile(join(dir, `${LOCK_FILE}.0123456789abcdef.tmp`), dead)
    await writeFile(join(dir, `${LOCK_FILE}.takeover-0123456789abcdef0123456789abcdef`), dead)
    await writeFile(join(dir, 'other.json'), '{}')
    await lock.release()
    expect(await readdir(dir)).toEqual(['other.json'])
  })

  it('fsyncs the lock file before linking it into place, and the directory after', async () => {
    const dir = await tempDir()
    const calls: string[] = []
    const name = (path: string) => (path === dir ? 'dir' : path.endsWith(LOCK_FILE) ? 'lock' : 'temp')
    const recording: FileSystem = {
      ...nodeFileSystem,
      open: async (path, flags) => {
        const handle: FileHandleLike = await nodeFileSystem.open(path, flags)
        return {
          write: (...args) => handle.write(...args),
          sync: async () => {
            calls.push(`sync ${name(path)}`)
            await handle.sync()
          },
          close: () => handle.close(),
        }
      },
      link: async (existing, newPath) => {
        calls.push(`link ${name(existing)} -> ${name(newPath)}`)
        await nodeFileSystem.link(existing, newPath)
      },
    }
    const lock = await DirLock.acquire(recording, dir)
    expect(calls).toEqual(['sync temp', 'link temp -> lock', 'sync dir'])
    await lock.release()
  })
})
