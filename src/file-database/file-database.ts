import { dirname, join, resolve } from 'node:path'
import type { Database } from '../database.js'
import { ClosedError, CorruptDataError } from '../errors.js'
import { CallingThreadWriter } from './calling-thread-writer.js'
import { DirLock } from './dir-lock.js'
import { fileNameFor, isMarketFile, isTempFile, tempNameFor } from './file-names.js'
import { type FileSystem, nodeFileSystem, syncDir } from './file-system.js'
import { LaneThreads } from './lane-threads.js'
import type { FileWrite, SyncFileSystem } from './write-files.js'
import { type LaneWrite, WriteLane } from './write-lane.js'
import { WriteThread } from './write-thread.js'

/** Options of `new FileDatabase(options)`. */
export interface FileDatabaseOptions {
  /** Directory holding one JSON file per market; created if missing. */
  dir: string
  /**
   * Number of write lanes, 1 to `MAX_WORKERS` (64). A market always writes through the same lane, chosen by a
   * stable hash of its name; different lanes write in parallel.
   * @default 3
   */
  workers?: number
  /**
   * fsync each file and the directory before a store resolves. Turning it off keeps atomic
   * replacement (no torn files) but a power loss may undo acknowledged changes.
   * @default true
   */
  fsync?: boolean
  /** @internal A file-system seam for fault-injection tests: the lock, reads and directory listing. */
  fs?: FileSystem
  /**
   * @internal A synchronous file-system seam for fault-injection tests: market files are then written
   * through it on the calling thread, by the same code and through the same lanes as the write threads.
   */
  syncFs?: SyncFileSystem
}

/** @internal FNV-1a over UTF-16 code units: stable across processes and versions, unlike any runtime hash. */
export function laneIndex(market: string, lanes: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < market.length; i++) {
    hash ^= market.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % lanes
}

/** @internal The most write lanes: 128 threads, each with its own V8 heap, are far past the disk's peak. */
export const MAX_WORKERS = 64

/** Threads each lane writes through; measured on ext4, 6 to 8 parallel fsyncs reach the disk's peak. */
const THREADS_PER_LANE = 2

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code

/**
 * The default `Database`: one JSON file per market in `dir`, replaced atomically and durably
 * (temp file, fsync, rename, directory fsync) through a pool of write lanes, with an exclusive
 * lock on the directory while open.
 *
 * @example
 * ```ts
 * const database = new FileDatabase({ dir: './persist', workers: 4 })
 * const cache = await MarketCache.start({ database })
 * ```
 * @throws {DataDirLockedError} from `open()` (or the first call) when another live owner holds `dir`.
 */
export class FileDatabase implements Database {
  readonly dir: string
  readonly #fsync: boolean
  readonly #fs: FileSystem
  readonly #lanes: WriteLane[]
  /** The threads of each lane, by lane index. */
  readonly #threads: LaneThreads[]
  /** Market names by file name, learned from stores and reads, so `markets()` reads each file at most once. */
  readonly #names = new Map<string, string>()
  /** File names by market: `fileNameFor` hashes the name, and a market is stored again and again. */
  readonly #fileNames = new Map<string, string>()
  #opening: Promise<void> | undefined
  #lock: DirLock | undefined
  #closing: Promise<void> | undefined
  readonly #accepted = new Set<Promise<void>>()
  /** Writes that failed so far: any of them may have renamed its file without the directory fsync after it. */
  #failedWrites = 0
  /** `#failedWrites` as it was when the last successful directory fsync started. */
  #syncedFailures = 0

  constructor(options: FileDatabaseOptions) {
    const workers = options.workers ?? 3
    if (!Number.isSafeInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
      throw new RangeError(`Expected \`workers\` to be an integer from 1 to ${MAX_WORKERS}, got \`${workers}\``)
    }
    this.dir = resolve(options.dir)
    this.#fsync = options.fsync ?? true
    this.#fs = options.fs ?? nodeFileSystem
    const { syncFs } = options
    const fsync = this.#fsync
    const newWriter = syncFs
      ? () => new CallingThreadWriter(syncFs, this.dir, fsync)
      : () => new WriteThread(this.dir, fsync)
    this.#threads = Array.from({ length: workers }, () => new LaneThreads(THREADS_PER_LANE, newWriter))
    this.#lanes = this.#threads.map((threads) => new WriteLane((writes) => this.#writeBatch(threads, writes)))
  }

  /** Creates the directory, takes its lock and removes temporary files left by a crash. Idempotent. */
  open(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('FileDatabase'))
    this.#opening ??= this.#open().catch((error: unknown) => {
      this.#opening = undefined
      throw error
    })
    return this.#opening
  }

  async #open(): Promise<void> {
    const created = await this.#fs.mkdir(this.dir, { recursive: true })
    if (this.#fsync && typeof created === 'string') {
      // A new directory is an entry of its parent, durable only once that parent is fsynced; `dir` itself
      // is fsynced by the lock and by every batch.
      for (let made = this.dir; dirname(made) !== made; made = dirname(made)) {
        await syncDir(this.#fs, dirname(made))
        if (made === created) break
      }
    }
    this.#lock = await DirLock.acquire(this.#fs, this.dir)
    try {
      await this.#removeTempFiles()
    } catch (error) {
      await this.#lock.release()
      this.#lock = undefined
      throw error
    }
  }

  /**
   * The parsed content of `market`'s file, or `undefined` when it has none. Not validated here: the actor
   * validates whatever a `Database` returns, and names the file through `locate`.
   * @throws {CorruptDataError} when the file is not valid JSON; it names the file.
   */
  async get(market: string): Promise<unknown | undefined> {
    await this.open()
    await this.#syncFailedRenames()
    const fileName = fileNameFor(market)
    const file = join(this.dir, fileName)
    let text: string
    try {
      text = await this.#fs.readFile(file, 'utf8')
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined
      throw error
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (cause) {
      throw new CorruptDataError(`File \`${file}\` of market \`${market}\` is not valid JSON`, market, file, cause)
    }
    if ((value as { market?: unknown } | null)?.market === market) this.#names.set(fileName, market)
    return value
  }

  /** The absolute path of `market`'s file, whether or not it exists. */
  locate(market: string): string {
    return join(this.dir, fileNameFor(market))
  }

  store(market: string, snapshot: unknown): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('FileDatabase'))
    const lane = this.#lanes[laneIndex(market, this.#lanes.length)] as WriteLane
    const stored = this.open().then(() => lane.enqueue(market, snapshot))
    // close() must wait for stores accepted before it, even those still waiting for open().
    this.#accepted.add(stored)
    const forget = () => this.#accepted.delete(stored)
    stored.then(forget, forget)
    return stored
  }

  async #writeBatch(threads: LaneThreads, writes: LaneWrite[]): Promise<unknown[]> {
    const results: unknown[] = writes.map(() => undefined)
    const files: FileWrite[] = []
    /** `files[k]` is the file of `writes[written[k]]`. */
    const written: number[] = []
    for (const [i, { market, snapshot }] of writes.entries()) {
      try {
        // Inside the try: a name that cannot be mapped (a JavaScript caller's non-string) fails only its own write.
        const fileName = this.#fileNameFor(market)
        // Sent as text: copying a string to a thread is cheaper than encoding it here, and the thread
        // encodes it off this thread.
        const data = JSON.stringify(snapshot)
        files.push({ target: join(this.dir, fileName), temp: join(this.dir, tempNameFor(fileName)), data })
        written.push(i)
      } catch (error) {
        results[i] = error
      }
    }
    if (files.length === 0) return results
    const outcomes = await threads.write(files)
    outcomes.forEach((error, k) => {
      const i = written[k] as number
      results[i] = error
      const { market } = writes[i] as LaneWrite
      if (error === undefined) this.#names.set(this.#fileNameFor(market), market)
      else this.#failedWrites++
    })
    return results
  }

  /**
   * A failed write may have renamed its file and then failed the directory fsync (or its thread died between
   * the two): the file is then visible but a power loss can still undo it. Before a read can show it (the
   * actor reloads after a failed store), the directory is fsynced; a failure rejects the read.
   */
  async #syncFailedRenames(): Promise<void> {
    const failures = this.#failedWrites
    if (!this.#fsync || failures === this.#syncedFailures) return
    await syncDir(this.#fs, this.dir)
    this.#syncedFailures = Math.max(this.#syncedFailures, failures)
  }

  #fileNameFor(market: string): string {
    let fileName = this.#fileNames.get(market)
    if (fileName === undefined) {
      fileName = fileNameFor(market)
      this.#fileNames.set(market, fileName)
    }
    return fileName
  }

  async markets(): Promise<string[]> {
    await this.open()
    await this.#syncFailedRenames()
    const names: string[] = []
    for (const fileName of await this.#fs.readdir(this.dir)) {
      if (!isMarketFile(fileName)) continue
      let name = this.#names.get(fileName)
      if (name === undefined) {
        try {
          const stored = (JSON.parse(await this.#fs.readFile(join(this.dir, fileName), 'utf8')) as { market?: unknown })
            ?.market
          // A file that is unreadable, or whose name does not map back to it, belongs to no market we can name.
          if (typeof stored !== 'string' || fileNameFor(stored) !== fileName) continue
          name = stored
          this.#names.set(fileName, name)
        } catch {
          continue
        }
      }
      names.push(name)
    }
    return names
  }

  /** Finishes every queued write, then releases the directory. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    await Promise.allSettled([...this.#accepted])
    if (!this.#opening) return
    await this.#opening.catch(() => {})
    // Every write has settled, so a thread that dies now loses nothing: it must not keep the lock held.
    await Promise.allSettled(this.#threads.map((threads) => threads.close()))
    if (!this.#lock) return
    // A temporary file a failed unlink or a dead thread left behind is removed while the lock is still
    // held (afterwards it could be another owner's write in progress), so a closed directory holds only
    // market files.
    await this.#removeTempFiles().catch(() => {})
    await this.#lock.release()
  }

  /** Removes every temporary file of a write in the directory. Only while the lock is held and no write is in flight. */
  async #removeTempFiles(): Promise<void> {
    for (const name of await this.#fs.readdir(this.dir)) {
      if (isTempFile(name)) await this.#fs.unlink(join(this.dir, name)).catch(() => {})
    }
  }
}
