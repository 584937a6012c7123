import { join, resolve } from 'node:path'
import type { Database } from '../database.js'
import { ClosedError, CorruptDataError } from '../errors.js'
import { validateSnapshot } from '../snapshot.js'
import { replaceFile } from './atomic-file.js'
import { DirLock } from './dir-lock.js'
import { fileNameFor, isMarketFile, isTempFile, tempNameFor } from './file-names.js'
import { type FileHandleLike, type FileSystem, nodeFileSystem } from './file-system.js'
import type { BatchItem } from './write-batch.js'
import { type LaneWrite, WriteLane } from './write-lane.js'
import { WriteWorker } from './write-worker.js'

/** Options of `new FileDatabase(options)`. */
export interface FileDatabaseOptions {
  /** Directory holding one JSON file per market; created if missing. */
  dir: string
  /**
   * Number of write lanes. A market always writes through the same lane, chosen by a stable
   * hash of its name; different lanes write in parallel.
   * @default 3
   */
  workers?: number
  /**
   * fsync each file and the directory before a store resolves. Turning it off keeps atomic
   * replacement (no torn files) but a power loss may undo acknowledged changes.
   * @default true
   */
  fsync?: boolean
  /** @internal A file-system seam for fault-injection tests. */
  fs?: FileSystem
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

/** Threads each lane writes through; measured on ext4, 6 to 8 parallel fsyncs reach the disk's peak. */
const THREADS_PER_LANE = 2

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code
const encoder = new TextEncoder()

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
  /** `THREADS_PER_LANE` threads per lane, started on first use; unused when a file-system seam is given. */
  readonly #workers: (WriteWorker | undefined)[] = []
  /** Market names by file name, learned from stores and reads, so `markets()` reads each file at most once. */
  readonly #names = new Map<string, string>()
  #opening: Promise<void> | undefined
  #lock: DirLock | undefined
  #dirHandle: FileHandleLike | undefined
  #closing: Promise<void> | undefined
  readonly #accepted = new Set<Promise<void>>()

  constructor(options: FileDatabaseOptions) {
    const workers = options.workers ?? 3
    if (!Number.isSafeInteger(workers) || workers < 1) {
      throw new RangeError(`Expected \`workers\` to be an integer >= 1, got \`${workers}\``)
    }
    this.dir = resolve(options.dir)
    this.#fsync = options.fsync ?? true
    this.#fs = options.fs ?? nodeFileSystem
    // The seam is asynchronous and lives on this thread, so with one the lanes write one file at a time
    // through it; without, each lane batches its markets into a worker thread doing synchronous calls.
    this.#lanes = Array.from({ length: workers }, (_, index) =>
      options.fs
        ? new WriteLane((market, snapshot) => this.#write(market, snapshot))
        : new WriteLane({ writeBatch: (writes) => this.#writeBatch(index, writes) }),
    )
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
    await this.#fs.mkdir(this.dir, { recursive: true })
    this.#lock = await DirLock.acquire(this.#fs, this.dir)
    try {
      for (const name of await this.#fs.readdir(this.dir)) {
        if (isTempFile(name)) await this.#fs.unlink(join(this.dir, name)).catch(() => {})
      }
      if (this.#fsync && this.#fs !== nodeFileSystem) this.#dirHandle = await this.#fs.open(this.dir, 'r')
    } catch (error) {
      await this.#lock.release()
      this.#lock = undefined
      throw error
    }
  }

  async get(market: string): Promise<unknown | undefined> {
    await this.open()
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
    // Validating here names the file; the actor takes the state built here rather than validate again.
    const problem = validateSnapshot(value, market)
    if (problem !== undefined) {
      throw new CorruptDataError(`File \`${file}\` of market \`${market}\` is corrupt: ${problem}`, market, file)
    }
    this.#names.set(fileName, market)
    return value
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

  async #write(market: string, snapshot: unknown): Promise<void> {
    const fileName = fileNameFor(market)
    await replaceFile({
      fs: this.#fs,
      dir: this.dir,
      fileName,
      data: encoder.encode(JSON.stringify(snapshot)),
      fsync: this.#fsync,
      syncDir: () => (this.#dirHandle ? this.#dirHandle.sync() : Promise.resolve()),
    })
    this.#names.set(fileName, market)
  }

  async #writeBatch(index: number, writes: LaneWrite[]): Promise<unknown[]> {
    const results: unknown[] = []
    const items: BatchItem[] = []
    const written: number[] = []
    const fileNames = writes.map(({ market }) => fileNameFor(market))
    for (const [i, { snapshot }] of writes.entries()) {
      const fileName = fileNames[i] as string
      let data: string
      try {
        // Sent as text: copying a string to the worker is cheaper than encoding it here, and the
        // worker encodes it off this thread.
        data = JSON.stringify(snapshot)
      } catch (error) {
        results[i] = error
        continue
      }
      results[i] = undefined
      written.push(i)
      items.push({ target: join(this.dir, fileName), temp: join(this.dir, tempNameFor(fileName)), data })
    }
    if (items.length === 0) return results
    // A thread blocks in each fsync; ext4 folds fsyncs that wait together into one journal commit,
    // so a batch split over threads costs about one commit instead of one per file.
    const chunks = Math.min(THREADS_PER_LANE, items.length)
    const size = Math.ceil(items.length / chunks)
    const parts = await Promise.all(
      Array.from({ length: chunks }, (_, chunk) => {
        const slot = index * THREADS_PER_LANE + chunk
        let worker = this.#workers[slot]
        // A thread that died (its writes already failed) is replaced, so one crash does not fail every later store.
        if (!worker?.alive) {
          worker = new WriteWorker(this.dir, this.#fsync)
          this.#workers[slot] = worker
        }
        return worker.write(items.slice(chunk * size, (chunk + 1) * size))
      }),
    )
    const outcomes = parts.flat()
    // A missing result would read as success; the worker answers every item, so this only guards a bug.
    if (outcomes.length !== items.length)
      throw new Error(`write worker answered ${outcomes.length} of ${items.length} writes`)
    outcomes.forEach((error, k) => {
      const i = written[k] as number
      results[i] = error
      if (error === undefined) this.#names.set(fileNames[i] as string, (writes[i] as LaneWrite).market)
    })
    return results
  }

  async markets(): Promise<string[]> {
    await this.open()
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
    await Promise.all(this.#workers.map((worker) => worker?.close()))
    await this.#dirHandle?.close()
    await this.#lock?.release()
  }
}
