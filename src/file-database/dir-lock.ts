import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { DataDirLockedError } from '../errors.js'
import { writeAll } from './atomic-file.js'
import { tempNameFor } from './file-names.js'
import type { FileSystem } from './file-system.js'

/** @internal The lock file's name; removed on close, so a closed directory holds only market files. */
export const LOCK_FILE = '.market-system.lock'
const TAKEOVER_FILE = `${LOCK_FILE}.takeover`

interface Owner {
  pid: number
  host: string
  /** The owner's start time in clock ticks since boot (Linux), so a recycled pid is not mistaken for the owner. */
  started: string | undefined
  token: string
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22; the command name (field 2) may contain spaces, so count from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function isAlive(owner: Owner): boolean {
  if (owner.host !== hostname()) return true // cannot tell for another machine: never steal
  if (owner.pid === process.pid) return true
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  const started = processStart(owner.pid)
  return owner.started === undefined || started === undefined || started === owner.started
}

function parseOwner(text: string): Owner | undefined {
  try {
    const value = JSON.parse(text) as Partial<Owner>
    if (typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.token === 'string') {
      return { pid: value.pid, host: value.host, started: value.started ?? undefined, token: value.token }
    }
  } catch {}
  return undefined
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code

/**
 * @internal
 * An exclusive lock on a data directory, held by one process (and one cache within it).
 *
 * The lock file is created complete and atomically (written beside, then hard-linked into place,
 * which fails if it exists). A lock whose owner died on this machine is taken over at once; the
 * takeover itself is serialized through a second hard-linked file so two starters cannot both win.
 */
export class DirLock {
  readonly #fs: FileSystem
  readonly #path: string
  readonly #owner: Owner

  private constructor(fs: FileSystem, dir: string, owner: Owner) {
    this.#fs = fs
    this.#path = join(dir, LOCK_FILE)
    this.#owner = owner
  }

  static async acquire(fs: FileSystem, dir: string): Promise<DirLock> {
    const owner: Owner = {
      pid: process.pid,
      host: hostname(),
      started: processStart(process.pid),
      token: randomBytes(8).toString('hex'),
    }
    const lock = new DirLock(fs, dir, owner)
    await lock.#acquire(dir)
    return lock
  }

  async #acquire(dir: string): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      if (await this.#link(this.#path)) return
      const current = await this.#readOwner(this.#path)
      if (current === undefined) continue // vanished, or being written: try again
      if (isAlive(current)) throw new DataDirLockedError(dir, current.pid)
      await this.#takeOver(current)
    }
    throw new DataDirLockedError(dir, undefined)
  }

  async #takeOver(stale: Owner): Promise<void> {
    const guard = join(this.#path, '..', TAKEOVER_FILE)
    if (!(await this.#link(guard))) {
      const guardOwner = await this.#readOwner(guard)
      // A takeover abandoned by a crash would block every later start; clear it.
      if (guardOwner && !isAlive(guardOwner)) await this.#fs.unlink(guard).catch(() => {})
      return
    }
    try {
      const current = await this.#readOwner(this.#path)
      if (current?.token === stale.token) await this.#fs.unlink(this.#path).catch(() => {})
    } finally {
      await this.#fs.unlink(guard).catch(() => {})
    }
  }

  /** Creates `path` holding this owner, atomically; false if it already exists. */
  async #link(path: string): Promise<boolean> {
    // A temp name like the market files' own, so one left by a crash is removed when the directory is next opened.
    const temp = join(dirname(path), tempNameFor(basename(path)))
    let written = false
    try {
      const handle = await this.#fs.open(temp, 'wx')
      try {
        const data = new TextEncoder().encode(JSON.stringify(this.#owner))
        // A torn lock would read as held by an unknown owner until removed by hand.
        await writeAll(handle, data)
      } finally {
        await handle.close()
      }
      written = true
      await this.#fs.link(temp, path)
      return true
    } catch (error) {
      if (written && errorCode(error) === 'EEXIST') return false
      // The owner that just opened the directory removed our temporary file as a crash leftover.
      if (written && errorCode(error) === 'ENOENT') return false
      throw error
    } finally {
      await this.#fs.unlink(temp).catch(() => {})
    }
  }

  async #readOwner(path: string): Promise<Owner | undefined> {
    try {
      return parseOwner(await this.#fs.readFile(path, 'utf8'))
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined
      throw error
    }
  }

  /** Removes the lock file if it is still this owner's. */
  async release(): Promise<void> {
    const current = await this.#readOwner(this.#path)
    if (current?.token === this.#owner.token) await this.#fs.unlink(this.#path)
  }
}
