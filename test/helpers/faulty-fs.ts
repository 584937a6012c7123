import { basename } from 'node:path'
import type { FileHandleLike, FileSystem } from '../../src/file-database/file-system.js'
import { nodeFileSystem } from '../../src/file-database/file-system.js'
import { type Fault, FaultySyncFileSystem, type WriteFaultStep } from './faulty-sync-fs.js'

export { ioError } from './faulty-sync-fs.js'

/** The steps a fault can hit: the durable replace's, a load's read, and the directory lock's. */
export type FaultStep = WriteFaultStep | 'read' | 'readLock' | 'writeLock' | 'link'

/**
 * Both seams of `FileDatabase` over the real file system: pass it as `fs` (the lock, reads, listing)
 * and as `syncFs` (the durable replace of market files), then `arm` the faults a test needs.
 */
export class FaultyFileSystem extends FaultySyncFileSystem implements FileSystem {
  override arm(fault: Fault<FaultStep>): void {
    super.arm(fault)
  }

  /** Only the lock file is opened through this seam: market files are written through `syncFs`. */
  async open(path: string, flags: string): Promise<FileHandleLike> {
    const handle = await nodeFileSystem.open(path, flags)
    return {
      write: async (...args) => {
        const error = this.take('writeLock', path)
        if (error) throw error
        return handle.write(...args)
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
    }
  }

  async readFile(path: string, encoding: 'utf8'): Promise<string> {
    const error = this.take(basename(path).startsWith('.market-system.lock') ? 'readLock' : 'read', path)
    if (error) throw error
    return nodeFileSystem.readFile(path, encoding)
  }

  readdir(path: string): Promise<string[]> {
    return nodeFileSystem.readdir(path)
  }

  mkdir(path: string, options: { recursive: true }): Promise<unknown> {
    return nodeFileSystem.mkdir(path, options)
  }

  rename(from: string, to: string): Promise<void> {
    return nodeFileSystem.rename(from, to)
  }

  async link(existing: string, newPath: string): Promise<void> {
    const error = this.take('link', newPath)
    if (error) throw error
    return nodeFileSystem.link(existing, newPath)
  }

  unlink(path: string): Promise<void> {
    return nodeFileSystem.unlink(path)
  }
}
