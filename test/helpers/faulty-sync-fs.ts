import * as nodeFs from 'node:fs'
import { basename } from 'node:path'
import type { SyncFileSystem } from '../../src/file-database/write-files.js'

/** The steps of the durable replace (`writeFilesSync`) a fault can hit. */
export type WriteFaultStep =
  | 'open'
  | 'write'
  | 'shortWrite'
  | 'zeroWrite'
  | 'fsyncFile'
  | 'close'
  | 'rename'
  | 'fsyncDir'

export interface Fault<Step extends string = string> {
  step: Step
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
 * The real synchronous `node:fs`, except for the operations a test arms to fail with a chosen code.
 * Only the failing operation is replaced, so everything around it (temp files, renames) really happens.
 * A directory fsync matches `filePrefix` by the file renamed just before it.
 */
export class FaultySyncFileSystem implements SyncFileSystem {
  readonly #faults: Fault[] = []
  readonly #paths = new Map<number, string>()
  /** Files that took part of a short write and refuse the rest with the armed code. */
  readonly #refuseRest = new Map<number, NodeJS.ErrnoException>()
  #lastRenamed: string | undefined
  /** Every injected error, in order, so tests can check it is the one the caller sees as `cause`. */
  readonly injected: NodeJS.ErrnoException[] = []
  /** Every rename attempted, by source path. */
  readonly renames: string[] = []

  /** `dir`: the data directory, whose own open and close are never faulted (only its fsync is). */
  constructor(protected readonly dir: string) {}

  arm(fault: Fault): void {
    this.#faults.push({ ...fault })
  }

  clear(): void {
    this.#faults.length = 0
  }

  protected take(step: string, path: string): NodeJS.ErrnoException | undefined {
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

  #fail(step: WriteFaultStep, path: string): void {
    const error = this.take(step, path)
    if (error) throw error
  }

  openSync(path: string, flags: string): number {
    if (path !== this.dir) this.#fail('open', path)
    const fd = nodeFs.openSync(path, flags)
    this.#paths.set(fd, path)
    return fd
  }

  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    const path = this.#paths.get(fd) ?? ''
    this.#fail('write', path)
    const refused = this.#refuseRest.get(fd)
    if (refused) {
      this.#refuseRest.delete(fd)
      throw refused
    }
    const short = this.take('shortWrite', path)
    if (short) {
      // The device takes part of the data, then refuses the rest: the usual shape of ENOSPC. Code `NONE`
      // is a short write and nothing else, which the writer must simply continue.
      if (short.code !== 'NONE') this.#refuseRest.set(fd, short)
      return nodeFs.writeSync(fd, buffer, offset, Math.max(1, Math.floor(length / 2)), position)
    }
    if (this.take('zeroWrite', path)) return 0
    return nodeFs.writeSync(fd, buffer, offset, length, position)
  }

  fdatasyncSync(fd: number): void {
    this.#fail('fsyncFile', this.#paths.get(fd) ?? '')
    nodeFs.fdatasyncSync(fd)
  }

  fsyncSync(fd: number): void {
    this.#fail('fsyncDir', this.#lastRenamed ?? this.#paths.get(fd) ?? '')
    nodeFs.fsyncSync(fd)
  }

  closeSync(fd: number): void {
    const path = this.#paths.get(fd) ?? ''
    this.#paths.delete(fd)
    this.#refuseRest.delete(fd)
    const error = path === this.dir ? undefined : this.take('close', path)
    nodeFs.closeSync(fd)
    if (error) throw error
  }

  renameSync(from: string, to: string): void {
    this.renames.push(from)
    this.#fail('rename', to)
    nodeFs.renameSync(from, to)
    this.#lastRenamed = to
  }

  unlinkSync(path: string): void {
    nodeFs.unlinkSync(path)
  }
}
