import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { DataDirLockedError } from '../errors.js'
import { isTempFile } from './file-names.js'
import { type FileSystem, syncDir } from './file-system.js'
import { type LockOwner, type LockProcesses, parseOwner, textKey, thisProcess, writeOwnerFile } from './lock-file.js'

/** @internal The lock file's name; removed on close, so a closed directory holds only market files. */
export const LOCK_FILE = '.market-system.lock'
const GUARD_PREFIX = `${LOCK_FILE}.takeover`
/** Attempts that lose a race to another starter's progress before giving up. */
const ATTEMPTS = 10
/** Each link of a takeover chain is a taker that crashed; a longer chain is not plausible, only a loop. */
const MAX_CHAIN = 1000

/**
 * @internal True for the lock's own leftovers: its temporary files, and takeover guards, which the
 * owner of the lock removes because while it lives none of them can matter (see `DirLock`).
 */
export function isLockLeftover(fileName: string): boolean {
  return fileName.startsWith(GUARD_PREFIX) || (fileName.startsWith(`${LOCK_FILE}.`) && isTempFile(fileName))
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code

/**
 * @internal
 * An exclusive lock on a data directory, held by one process (and one cache within it).
 *
 * The lock file is created complete (written and fsynced beside, then hard-linked into place, which
 * fails if it exists). A lock whose writer has stopped for good (a dead process on this machine, as an
 * earlier process that had this one's pid, or text that is not a whole lock) is taken over at once; one
 * naming this very process (its pid and start time) is held, by whichever thread or module copy.
 *
 * A takeover never removes the lock file: the taker renames its own over it, so a plain starter never
 * finds the place empty. Who may rename is decided by guard files, each named after the exact text it
 * supersedes and created by hard link, so exactly one starter wins each: the guard of the lock's text
 * goes to one starter; if that starter stops before renaming, the guard of *its* guard's text goes to
 * one other, and so on. A starter follows the chain from the lock to its end, takes the guard after
 * the last (every writer on the way having stopped), then re-reads the whole chain, the lock last,
 * and renames only if nothing changed. While the lock keeps one text, guards are only ever added
 * (removed only by their own live writer, or once the lock has another text, which never returns as
 * each holds a fresh token), so two starters that both pass the re-read would each sit on the chain
 * with a live writer after the other's guard: impossible, as a live writer is never passed.
 */
export class DirLock {
  readonly #fs: FileSystem
  readonly #dir: string
  readonly #path: string
  readonly #processes: LockProcesses
  #owner: LockOwner | undefined

  private constructor(fs: FileSystem, dir: string, processes: LockProcesses) {
    this.#fs = fs
    this.#dir = dir
    this.#path = join(dir, LOCK_FILE)
    this.#processes = processes
  }

  /**
   * Takes the lock on `dir`, then removes the lock's leftovers there.
   * @throws {DataDirLockedError} when a live owner holds it, or one is taking it over.
   */
  static async acquire(fs: FileSystem, dir: string, processes: LockProcesses = thisProcess): Promise<DirLock> {
    const lock = new DirLock(fs, dir, processes)
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (await lock.#attempt()) {
        await lock.#removeLeftovers()
        return lock
      }
    }
    throw new DataDirLockedError(dir, undefined)
  }

  /** One attempt under a fresh token, so a token names one guard at most; false when a race was lost. */
  async #attempt(): Promise<boolean> {
    const owner: LockOwner = { ...this.#processes.self(), token: randomBytes(8).toString('hex') }
    const temp = await writeOwnerFile(this.#fs, this.#path, owner)
    let won: boolean
    try {
      won = await this.#claim(temp)
    } finally {
      await this.#fs.unlink(temp).catch(() => {})
    }
    if (won) {
      this.#owner = owner
      await syncDir(this.#fs, this.#dir).catch(async (error: unknown) => {
        await this.release()
        throw error
      })
    }
    return won
  }

  /** Puts the lock file `temp` in place: into an empty place, or over a stopped writer's by takeover. */
  async #claim(temp: string): Promise<boolean> {
    const placed = await this.#link(temp, this.#path)
    if (placed !== 'exists') return placed === 'linked'
    const root = await this.#read(this.#path)
    if (root === undefined) return false
    const chain: { path: string; text: string }[] = []
    let tip = root
    for (;;) {
      const writer = parseOwner(tip)
      // Text that is not a whole lock was torn by a power loss (all writers died) or written by hand:
      // a live writer's lock is linked complete.
      if (writer && (await this.#processes.isAlive(writer))) throw new DataDirLockedError(this.#dir, writer.pid)
      const guard = this.#guardOf(tip)
      const text = await this.#read(guard)
      if (text === undefined) break
      if (chain.length === MAX_CHAIN) throw new DataDirLockedError(this.#dir, undefined)
      chain.push({ path: guard, text })
      tip = text
    }
    const mine = this.#guardOf(tip)
    if ((await this.#link(temp, mine)) !== 'linked') return false
    let renamed = false
    try {
      // The lock last: if it still holds `root`, it held it through every read, so no guard here was
      // removed as a leftover and each one read the same belongs to this chain.
      for (const { path, text } of chain) if ((await this.#read(path)) !== text) return false
      if ((await this.#read(this.#path)) !== root) return false
      await this.#fs.rename(temp, this.#path)
      renamed = true
      return true
    } catch (error) {
      // The owner that just opened the directory removed our temporary file as a crash leftover.
      if (errorCode(error) === 'ENOENT') return false
      throw error
    } finally {
      // A guard that lost is ours alone to remove; one that won dies with its chain, removed as leftovers.
      if (!renamed) await this.#fs.unlink(mine).catch(() => {})
    }
  }

  #guardOf(text: string): string {
    return join(this.#dir, `${GUARD_PREFIX}-${textKey(text)}`)
  }

  /** Hard-links `temp` to `path`, which fails if `path` exists. */
  async #link(temp: string, path: string): Promise<'linked' | 'exists' | 'gone'> {
    try {
      await this.#fs.link(temp, path)
      return 'linked'
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return 'exists'
      // The owner that just opened the directory removed our temporary file as a crash leftover.
      if (errorCode(error) === 'ENOENT') return 'gone'
      throw error
    }
  }

  async #read(path: string): Promise<string | undefined> {
    try {
      return await this.#fs.readFile(path, 'utf8')
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined
      throw error
    }
  }

  /**
   * Removes guards and temporary lock files left by crashes. Only while this lock is held: every guard
   * then supersedes a text the lock no longer has and never will again, and a starter whose temporary
   * file disappears retries. Once the lock is gone, the files could be a new owner's takeover in progress.
   */
  async #removeLeftovers(): Promise<void> {
    const names = await this.#fs.readdir(this.#dir).catch(() => [])
    for (const name of names) {
      if (isLockLeftover(name)) await this.#fs.unlink(join(this.#dir, name)).catch(() => {})
    }
  }

  /**
   * Removes the lock file if it is still this owner's, and before it the leftovers of starters that
   * crashed while it was held, so a closed directory holds only market files.
   */
  async release(): Promise<void> {
    const owner = this.#owner
    if (!owner) return
    this.#owner = undefined
    const current = await this.#read(this.#path)
    if (current === undefined || parseOwner(current)?.token !== owner.token) return
    await this.#removeLeftovers()
    try {
      await this.#fs.unlink(this.#path)
    } catch (error) {
      // Gone already (the directory was removed under us): the lock is released either way.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
}
