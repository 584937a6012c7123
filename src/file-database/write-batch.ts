/** @internal The synchronous calls a batch needs; `node:fs` satisfies it, tests pass a faulty double. */
export interface SyncFileSystem {
  openSync(path: string, flags: string): number
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number
  fdatasyncSync(fd: number): void
  fsyncSync(fd: number): void
  closeSync(fd: number): void
  renameSync(from: string, to: string): void
  unlinkSync(path: string): void
}

/** @internal One file of a batch, as posted to the write worker. */
export interface BatchItem {
  /** Absolute paths, computed on the main thread. */
  target: string
  temp: string
  /** The file's text, encoded as UTF-8 by the worker. */
  data: string
}

/** @internal What crosses back from the worker for a failed item (structured clone drops `code`). */
export interface BatchError {
  message: string
  code?: string
  errno?: number
  syscall?: string
  path?: string
}

/**
 * @internal
 * Durably replaces several files in one directory, returning one result per item: `null` when that
 * file is durable, else its own error. Runs inside the write worker, so it must stay self-contained:
 * it is shipped as source text (`Function.prototype.toString`), so it references only its
 * parameters and globals, and declares no nested named functions (which bundlers may wrap in helpers).
 *
 * Every temporary file is written before any is fsynced: on journaling file systems the first fsync
 * commits the others' data too, so the later ones are cheap. Each file is still fsynced on its own,
 * and renamed only if that succeeded (after an fsync error the page cache may report failed pages as
 * clean, so the file must never become visible). One directory fsync then covers every rename; if it
 * fails, every renamed item fails, because none of those renames is known to be durable.
 */
export function writeBatchSync(
  fs: SyncFileSystem,
  dirFd: number,
  items: readonly BatchItem[],
  fsync: boolean,
): (BatchError | null)[] {
  const results: (BatchError | null)[] = []
  const fds: number[] = []
  for (let i = 0; i < items.length; i++) {
    results.push(null)
    fds.push(-1)
  }
  const failed: unknown[] = []
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as BatchItem
    try {
      fds[i] = fs.openSync(item.temp, 'wx')
      const bytes = Buffer.from(item.data, 'utf8')
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
  for (let i = 0; i < items.length; i++) {
    if (failed[i] !== undefined || !fsync) continue
    try {
      // fdatasync also flushes the size and block map a new file needs to be read back.
      fs.fdatasyncSync(fds[i] as number)
    } catch (error) {
      failed[i] = error
    }
  }
  for (let i = 0; i < items.length; i++) {
    if (fds[i] === -1) continue
    try {
      fs.closeSync(fds[i] as number)
    } catch (error) {
      if (failed[i] === undefined) failed[i] = error
    }
  }
  const renamed: number[] = []
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as BatchItem
    if (failed[i] === undefined) {
      try {
        fs.renameSync(item.temp, item.target)
        renamed.push(i)
        continue
      } catch (error) {
        failed[i] = error
      }
    }
    try {
      fs.unlinkSync(item.temp)
    } catch {
      // Nothing to remove when `open` itself failed; a leftover is removed when the directory is opened.
    }
  }
  if (fsync && renamed.length > 0) {
    try {
      fs.fsyncSync(dirFd)
    } catch (error) {
      for (const i of renamed) failed[i] = error
    }
  }
  for (let i = 0; i < items.length; i++) {
    const error = failed[i] as (Error & BatchError) | undefined
    if (error === undefined) continue
    const result: BatchError = { message: error instanceof Error ? error.message : String(error) }
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
