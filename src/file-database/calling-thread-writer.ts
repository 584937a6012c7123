import { type FileWrite, type FileWriter, type SyncFileSystem, toError, writeFilesSync } from './write-files.js'

/**
 * @internal
 * Runs `writeFilesSync` on the calling thread through an injected `SyncFileSystem`, in place of a write
 * thread: fault-injection tests then drive the production durable replace, through the same lanes and
 * batches, with faults they choose per call.
 */
export class CallingThreadWriter implements FileWriter {
  readonly #fs: SyncFileSystem
  readonly #dir: string
  readonly #fsync: boolean
  #dirFd = -1
  #closed = false

  constructor(fs: SyncFileSystem, dir: string, fsync: boolean) {
    this.#fs = fs
    this.#dir = dir
    this.#fsync = fsync
  }

  get alive(): boolean {
    return !this.#closed
  }

  async write(files: FileWrite[]): Promise<(Error | undefined)[]> {
    if (this.#dirFd === -1 && this.#fsync) this.#dirFd = this.#fs.openSync(this.#dir, 'r')
    return writeFilesSync(this.#fs, this.#dirFd, files, this.#fsync).map((failure) =>
      failure ? toError(failure) : undefined,
    )
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#dirFd !== -1) this.#fs.closeSync(this.#dirFd)
    this.#dirFd = -1
  }
}
