import { readFile } from 'node:fs'
import * as fs from 'node:fs/promises'

/** @internal The part of an open file `FileDatabase` uses. `node:fs/promises` FileHandle satisfies it. */
export interface FileHandleLike {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>
  sync(): Promise<void>
  close(): Promise<void>
}

/**
 * @internal
 * The asynchronous file operations of `FileDatabase` outside the durable replace (the directory lock,
 * reads, listing), as a seam: tests replace single operations to inject EIO, EACCES or short writes.
 * Market files are written only by `writeFilesSync`, through a `SyncFileSystem`.
 */
export interface FileSystem {
  open(path: string, flags: string): Promise<FileHandleLike>
  readFile(path: string, encoding: 'utf8'): Promise<string>
  readdir(path: string): Promise<string[]>
  mkdir(path: string, options: { recursive: true }): Promise<unknown>
  rename(from: string, to: string): Promise<void>
  link(existing: string, newPath: string): Promise<void>
  unlink(path: string): Promise<void>
}

/** @internal */
export const nodeFileSystem: FileSystem = {
  open: (path, flags) => fs.open(path, flags),
  // The callback API: measured reading 5 000 cached 12 KB files from 100 callers, it takes 40% less CPU
  // and wall time than `fs.promises.readFile`, whose FileHandle costs four promise round trips per file.
  readFile: (path, encoding) =>
    new Promise((resolve, reject) =>
      readFile(path, encoding, (error, text) => (error ? reject(error) : resolve(text))),
    ),
  readdir: (path) => fs.readdir(path),
  mkdir: (path, options) => fs.mkdir(path, options),
  rename: (from, to) => fs.rename(from, to),
  link: (existing, newPath) => fs.link(existing, newPath),
  unlink: (path) => fs.unlink(path),
}

/** @internal Makes a link or rename in `dir` durable. */
export async function syncDir(fs: FileSystem, dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
