import { join } from 'node:path'
import { tempNameFor } from './file-names.js'
import type { FileHandleLike, FileSystem } from './file-system.js'

/** @internal */
export interface AtomicWrite {
  fs: FileSystem
  dir: string
  fileName: string
  data: Uint8Array
  /** When false, skip both fsyncs: the file is still replaced atomically, but a power loss may undo it. */
  fsync: boolean
  /** Makes the rename durable; called only after the rename succeeded. */
  syncDir: () => Promise<void>
}

/** @internal Writes all of `data`, continuing after short writes. */
export async function writeAll(handle: FileHandleLike, data: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, offset)
    // A write that makes no progress would loop forever; report it as the device being full.
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'ENOSPC' })
    offset += bytesWritten
  }
}

/**
 * @internal
 * Durably replaces one file: a fresh temporary file in the same directory, written in full,
 * fsynced, closed, renamed over the target, then the directory fsynced.
 *
 * On any failure before the rename the temporary file is removed and the old file is untouched.
 * In particular there is no rename after an fsync error: the page cache may already have dropped
 * the failed pages and report them clean, so a retry must write from memory into a new file.
 */
export async function replaceFile({ fs, dir, fileName, data, fsync, syncDir }: AtomicWrite): Promise<void> {
  const temp = join(dir, tempNameFor(fileName))
  let handle: FileHandleLike | undefined
  try {
    handle = await fs.open(temp, 'wx')
    await writeAll(handle, data)
    if (fsync) await handle.sync()
    const closing = handle
    handle = undefined
    await closing.close()
    await fs.rename(temp, join(dir, fileName))
  } catch (error) {
    await handle?.close().catch(() => {})
    await fs.unlink(temp).catch(() => {})
    throw error
  }
  if (fsync) await syncDir()
}
