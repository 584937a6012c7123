import { dirname } from 'node:path'
import type { FileHandleLike, FileSystem } from '../../src/file-database/file-system.js'

const failure = (code: string, syscall: string, path: string) =>
  Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path })

/**
 * The POSIX semantics the directory lock relies on, in memory, for one flat directory: names point to
 * inodes, `link` fails if the new name exists, `rename` replaces its target atomically, `open(…, 'wx')`
 * creates exclusively. Fast enough to run the lock through tens of thousands of interleavings.
 */
export class MemoryFileSystem implements FileSystem {
  readonly #names = new Map<string, { data: Uint8Array }>()

  constructor(readonly dir: string) {}

  /** Puts a file in place, as a test's starting state. */
  put(path: string, text: string): void {
    this.#names.set(path, { data: new TextEncoder().encode(text) })
  }

  async open(path: string, flags: string): Promise<FileHandleLike> {
    const nothing = async () => {}
    if (path === this.dir && flags === 'r') {
      return { write: () => Promise.reject(failure('EISDIR', 'write', path)), sync: nothing, close: nothing }
    }
    if (flags !== 'wx') throw failure('EINVAL', 'open', path)
    if (this.#names.has(path)) throw failure('EEXIST', 'open', path)
    const inode = { data: new Uint8Array(0) }
    this.#names.set(path, inode)
    return {
      write: async (buffer, offset, length, position) => {
        const end = position + length
        if (end > inode.data.length) {
          const grown = new Uint8Array(end)
          grown.set(inode.data)
          inode.data = grown
        }
        inode.data.set(buffer.subarray(offset, offset + length), position)
        return { bytesWritten: length }
      },
      sync: nothing,
      close: nothing,
    }
  }

  async readFile(path: string): Promise<string> {
    const inode = this.#names.get(path)
    if (!inode) throw failure('ENOENT', 'open', path)
    return new TextDecoder().decode(inode.data)
  }

  async readdir(path: string): Promise<string[]> {
    return [...this.#names.keys()].filter((name) => dirname(name) === path).map((name) => name.slice(path.length + 1))
  }

  async mkdir(): Promise<unknown> {
    return undefined
  }

  async rename(from: string, to: string): Promise<void> {
    const inode = this.#names.get(from)
    if (!inode) throw failure('ENOENT', 'rename', from)
    this.#names.delete(from)
    this.#names.set(to, inode)
  }

  async link(existing: string, newPath: string): Promise<void> {
    const inode = this.#names.get(existing)
    if (!inode) throw failure('ENOENT', 'link', existing)
    if (this.#names.has(newPath)) throw failure('EEXIST', 'link', newPath)
    this.#names.set(newPath, inode)
  }

  async unlink(path: string): Promise<void> {
    if (!this.#names.delete(path)) throw failure('ENOENT', 'unlink', path)
  }
}
