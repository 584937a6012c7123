import * as nodeFs from 'node:fs'
import type { SyncFileSystem } from '../../src/file-database/write-batch.js'

/** A step of the worker's synchronous durable replace. */
export type SyncFaultStep = 'open' | 'write' | 'shortWrite' | 'fsyncFile' | 'close' | 'rename' | 'fsyncDir'

/**
 * The real synchronous fs, except that `step` fails with `code` for paths containing `victim` (the
 * directory's path for `fsyncDir`). Every rename attempted is recorded in `renames`.
 */
export function faultySyncFs(
  step: SyncFaultStep,
  code: string,
  victim: string,
  renames: string[] = [],
): SyncFileSystem {
  const paths = new Map<number, string>()
  const fail = (path: string | undefined) => {
    if (path?.includes(victim))
      throw Object.assign(new Error(`${code}: injected ${step} ${path}`), { code, syscall: step, path })
  }
  const shortened = new Set<number>()
  return {
    openSync(path, flags) {
      if (step === 'open') fail(path)
      const fd = nodeFs.openSync(path, flags)
      paths.set(fd, path)
      return fd
    },
    writeSync(fd, buffer, offset, length, position) {
      if (step === 'write') fail(paths.get(fd))
      if (step === 'shortWrite' && paths.get(fd)?.includes(victim)) {
        // Part of the data lands, then the device refuses the rest.
        if (shortened.has(fd)) fail(paths.get(fd))
        shortened.add(fd)
        return nodeFs.writeSync(fd, buffer, offset, Math.max(1, Math.floor(length / 2)), position)
      }
      return nodeFs.writeSync(fd, buffer, offset, length, position)
    },
    fdatasyncSync(fd) {
      if (step === 'fsyncFile') fail(paths.get(fd))
      nodeFs.fdatasyncSync(fd)
    },
    fsyncSync(fd) {
      if (step === 'fsyncDir') fail(paths.get(fd))
      nodeFs.fsyncSync(fd)
    },
    closeSync(fd) {
      if (step === 'close') fail(paths.get(fd))
      nodeFs.closeSync(fd)
    },
    renameSync(from, to) {
      renames.push(from)
      if (step === 'rename') fail(from)
      nodeFs.renameSync(from, to)
    },
    unlinkSync: (path) => nodeFs.unlinkSync(path),
  }
}
