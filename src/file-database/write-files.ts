/**
 * @internal
 * The synchronous calls a durable replace needs; `node:fs` satisfies it. Fault-injection tests pass a
 * double, which `FileDatabase` then drives on the calling thread through the same `writeFilesSync`.
 */
export interface SyncFileSystem {
  openSync(path: string, flags: string): number
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number
  fdatasyncSync(fd: number): void
  fsyncSync(fd: number): void
  closeSync(fd: number): void
  renameSync(from: string, to: string): void
  unlinkSync(path: string): void
}

/** @internal One market file to replace. */
export interface FileWrite {
  /** Absolute paths, computed on the main thread. */
  target: string
  temp: string
  /** The file's text, encoded as UTF-8 where it is written (off the main thread, for a write thread). */
  data: string
}

/** @internal A failed file's error as plain data: a structured clone from a thread would drop `code`. */
export interface FileWriteError {
  message: string
  code?: string
  errno?: number
  syscall?: string
  path?: string
}

/**
 * @internal
 * Where a thread's share of a lane's batch goes: a write thread, or the calling thread when a
 * `SyncFileSystem` is injected. Either way `writeFilesSync` does the writing.
 */
export interface FileWriter {
  /** False once the writer died or was closed; the database then starts a new one. */
  readonly alive: boolean
  /**
   * Resolves to one result per file: `undefined` once it is durable, else its own error. Rejects only
   * when the writer died, and only once nothing of `files` can still land.
   */
  write(files: FileWrite[]): Promise<(Error | undefined)[]>
  /** Releases the directory descriptor and the thread, after the writes already started. */
  close(): Promise<void>
}

/** @internal Turns a `FileWriteError` back into an `Error` carrying its `code`. */
export function toError(failure: FileWriteError): Error {
  return Object.assign(new Error(failure.message), failure)
}

/**
 * @internal
 * The one durable replace of market files: writes each file to its temporary name, fsyncs it, renames
 * it over the target, then fsyncs the directory. Returns one result per file: `null` when that file
 * is durable, else its own error. A write thread runs it from its source text
 * (`Function.prototype.toString`), so it references only its parameters and globals, and declares no
 * nested named functions (which bundlers may wrap in helpers).
 *
 * Files go in groups of at most 64, each group written, then fsynced, then closed before the next is
 * opened: a thread holds at most 64 descriptors whatever its share (a share of a burst is thousands of
 * files, and every descriptor counts against `ulimit -n`). Within a group every temporary file is written
 * before any is fsynced: on journaling file systems the first fsync commits the others' data too, so the
 * later ones are cheap. Each file is still fsynced on its own, and renamed only if that succeeded (after
 * an fsync error the page cache may report failed pages as clean, so the file must never become visible).
 * The renames follow every group, and one directory fsync then covers them all; if it fails, every
 * renamed file fails, because none of those renames is known to be durable.
 */
export function writeFilesSync(
  fs: SyncFileSystem,
  dirFd: number,
  files: readonly FileWrite[],
  fsync: boolean,
): (FileWriteError | null)[] {
  const group = 64
  const results: (FileWriteError | null)[] = []
  const fds: number[] = []
  for (let i = 0; i < files.length; i++) {
    results.push(null)
    fds.push(-1)
  }
  const failed: unknown[] = []
  for (let first = 0; first < files.length; first += group) {
    const end = Math.min(first + group, files.length)
    for (let i = first; i < end; i++) {
      const file = files[i] as FileWrite
      try {
        fds[i] = fs.openSync(file.temp, 'wx')
        const bytes = Buffer.from(file.data, 'utf8')
        let offset = 0
        while (offset < bytes.length) {
          const written = fs.writeSync(fds[i] as number, bytes, offset, bytes.length - offset, offset)
          // A write that makes no progress would loop forever; report it as the device being full.
          if (written <= 0) throw Object.assign(new Error('write made no progress'), { code: 'ENOSPC' })
          offset += written
        }
      } catch (error) {
        failed[i] = error
      }
    }
    for (let i = first; i < end; i++) {
      if (failed[i] !== undefined || !fsync) continue
      try {
        // fdatasync also flushes the size and block map a new file needs to be read back.
        fs.fdatasyncSync(fds[i] as number)
      } catch (error) {
        failed[i] = error
      }
    }
    for (let i = first; i < end; i++) {
      if (fds[i] === -1) continue
      try {
        fs.closeSync(fds[i] as number)
      } catch (error) {
        if (failed[i] === undefined) failed[i] = error
      }
    }
  }
  const renamed: number[] = []
  for (let i = 0; i < files.length; i++) {
    const file = files[i] as FileWrite
    if (failed[i] === undefined) {
      try {
        fs.renameSync(file.temp, file.target)
        renamed.push(i)
        continue
      } catch (error) {
        failed[i] = error
      }
    }
    try {
      fs.unlinkSync(file.temp)
    } catch {
      // Nothing to remove when `open` itself failed; any other leftover is removed when the directory is
      // closed or next opened.
    }
  }
  if (fsync && renamed.length > 0) {
    try {
      fs.fsyncSync(dirFd)
    } catch (error) {
      for (const i of renamed) failed[i] = error
    }
  }
  for (let i = 0; i < files.length; i++) {
    const error = failed[i] as (Error & FileWriteError) | undefined
    if (error === undefined) continue
    const result: FileWriteError = { message: error instanceof Error ? error.message : String(error) }
    if (typeof error === 'object' && error !== null) {
      if (typeof error.code === 'string') result.code = error.code
      if (typeof error.errno === 'number') result.errno = error.errno
      if (typeof error.syscall === 'string') result.syscall = error.syscall
      if (typeof error.path === 'string') result.path = error.path
    }
    results[i] = result
  }
  return results
}
