import { basename } from 'node:path'
import type { FileHandleLike, FileSystem } from '../../src/file-database/file-system.js'
import { nodeFileSystem } from '../../src/file-database/file-system.js'

/** The steps of a durable replace (and of a load) a fault can hit. */
export type FaultStep =
  | 'open'
  | 'write'
  | 'shortWrite'
  | 'zeroWrite'
  | 'fsyncFile'
  | 'close'
  | 'rename'
  | 'fsyncDir'
  | 'read'
  | 'readLock'
  | 'writeLock'
  | 'link'

export interface Fault {
  step: FaultStep
  code: string
  /** How many matching operations fail before the fault clears. */
  times: number
  /** Only operations on files whose name starts with this prefix (a market's file name) fail. */
  filePrefix?: string
}

export function ioError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault, ${syscall} '${path}'`), { code, syscall, path })
}

/**
 * A `FileSystem` over the real one that fails chosen steps with chosen error codes. Only the
 * failing operation is replaced, so everything around it (temp files, renames) really happens.
 */
export class FaultyFileSystem implements FileSystem {
  readonly #faults: Fault[] = []
  /** Every injected error, in order, so tests can check it is the one the caller sees as `cause`. */
  readonly injected: NodeJS.ErrnoException[] = []
  /** When set, the next fsync of a matching file waits on this promise: a write held in flight. */
  holdFsync: { filePrefix: string; until: Promise<void>; reached: () => void } | undefined

  constructor(private readonly dir: string) {}

  arm(fault: Fault): void {
    this.#faults.push({ ...fault })
  }

  clear(): void {
    this.#faults.length = 0
  }

  #take(step: FaultStep, path: string): NodeJS.ErrnoException | undefined {
    const name = basename(path)
    const fault = this.#faults.find(
      (candidate) =>
        candidate.step === step &&
        candidate.times > 0 &&
        (candidate.filePrefix === undefined || name.startsWith(candidate.filePrefix)),
    )
    if (!fault) return undefined
    fault.times--
    const error = ioError(fault.code, step, path)
    this.injected.push(error)
    return error
  }

  /** Market files and their temporaries; the lock file and the directory are never faulted by name. */
  #isDataFile(path: string): boolean {
    return path !== this.dir && !basename(path).startsWith('.market-system.lock')
  }

  async open(path: string, flags: string): Promise<FileHandleLike> {
    if (this.#isDataFile(path)) {
      const error = this.#take('open', path)
      if (error) throw error
    }
    const handle = await nodeFileSystem.open(path, flags)
    if (path === this.dir) return this.#dirHandle(handle)
    if (!this.#isDataFile(path)) {
      return {
        write: async (...args) => {
          const error = this.#take('writeLock', path)
          if (error) throw error
          return handle.write(...args)
        },
        sync: () => handle.sync(),
        close: () => handle.close(),
      }
    }
    return this.#fileHandle(handle, path)
  }

  #dirHandle(handle: FileHandleLike): FileHandleLike {
    return {
      write: (...args) => handle.write(...args),
      close: () => handle.close(),
      sync: async () => {
        const error = this.#take('fsyncDir', this.#lastRenamed ?? this.dir)
        if (error) throw error
        return handle.sync()
      },
    }
  }

  /** The market file renamed last: a directory fsync follows the rename of one market's file. */
  #lastRenamed: string | undefined

  #fileHandle(handle: FileHandleLike, path: string): FileHandleLike {
    let short = false
    return {
      write: async (buffer, offset, length, position) => {
        const error = this.#take('write', path)
        if (error) throw error
        if (!short) {
          const shortError = this.#take('shortWrite', path)
          if (shortError) {
            // The device takes part of the data, then refuses the rest: the usual shape of ENOSPC.
            short = true
            const half = Math.max(1, Math.floor(length / 2))
            const written = await handle.write(buffer, offset, half, position)
            // Code `NONE`: a short write and nothing else, which the writer must simply continue.
            if (shortError.code !== 'NONE') this.#pendingShort.set(path, shortError)
            return written
          }
        }
        if (this.#take('zeroWrite', path)) return { bytesWritten: 0 }
        const pendingShort = this.#pendingShort.get(path)
        if (pendingShort) {
          this.#pendingShort.delete(path)
          throw pendingShort
        }
        return handle.write(buffer, offset, length, position)
      },
      sync: async () => {
        const hold = this.holdFsync
        if (hold && basename(path).startsWith(hold.filePrefix)) {
          this.holdFsync = undefined
          hold.reached()
          await hold.until
        }
        const error = this.#take('fsyncFile', path)
        if (error) throw error
        return handle.sync()
      },
      close: async () => {
        const error = this.#take('close', path)
        await handle.close()
        if (error) throw error
      },
    }
  }

  readonly #pendingShort = new Map<string, NodeJS.ErrnoException>()

  async readFile(path: string, encoding: 'utf8'): Promise<string> {
    const error = this.#take(this.#isDataFile(path) ? 'read' : 'readLock', path)
    if (error) throw error
    return nodeFileSystem.readFile(path, encoding)
  }

  readdir(path: string): Promise<string[]> {
    return nodeFileSystem.readdir(path)
  }

  mkdir(path: string, options: { recursive: true }): Promise<unknown> {
    return nodeFileSystem.mkdir(path, options)
  }

  async rename(from: string, to: string): Promise<void> {
    const error = this.#take('rename', to)
    if (error) throw error
    await nodeFileSystem.rename(from, to)
    this.#lastRenamed = to
  }

  async link(existing: string, newPath: string): Promise<void> {
    const error = this.#take('link', newPath)
    if (error) throw error
    return nodeFileSystem.link(existing, newPath)
  }

  unlink(path: string): Promise<void> {
    return nodeFileSystem.unlink(path)
  }
}
