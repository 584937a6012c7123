import { Worker } from 'node:worker_threads'
import { type BatchError, type BatchItem, writeBatchSync } from './write-batch.js'

/**
 * The worker's whole program. It is evaluated from source text rather than loaded from a file, so the
 * same code runs from the ESM and CommonJS builds, under tsx and under vitest, with no path to resolve.
 * `process.getBuiltinModule` (Node >= 20.16) works whether the host evaluates it as a script or a module.
 */
const source = `
const fs = process.getBuiltinModule('node:fs')
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads')
const writeBatchSync = ${writeBatchSync.toString()}
let dirFd = -1
parentPort.on('message', (message) => {
  if (message.close) {
    if (dirFd !== -1) fs.closeSync(dirFd)
    dirFd = -1
    parentPort.postMessage({ id: message.id, results: [] })
    return
  }
  let results
  try {
    if (dirFd === -1 && workerData.fsync) dirFd = fs.openSync(workerData.dir, 'r')
    results = writeBatchSync(fs, dirFd, message.items, workerData.fsync)
  } catch (error) {
    const failure = { message: String(error && error.message), code: error && error.code }
    results = message.items.map(() => failure)
  }
  parentPort.postMessage({ id: message.id, results })
})
`

function toError(failure: BatchError): Error {
  return Object.assign(new Error(failure.message), failure)
}

interface Request {
  resolve: (results: (Error | undefined)[]) => void
  reject: (error: unknown) => void
}

/**
 * @internal
 * A thread that durably replaces files with synchronous calls: one message each way per batch instead
 * of six thread-pool round trips per file, and a blocking fsync that occupies this thread rather than
 * one of libuv's four shared pool threads (whose size a library cannot change after start).
 */
export class WriteWorker {
  readonly #worker: Worker
  readonly #requests = new Map<number, Request>()
  #nextId = 0
  #failure: Error | undefined

  /** False once the thread died or was closed; the database then starts a new one. */
  get alive(): boolean {
    return this.#failure === undefined
  }

  constructor(dir: string, fsync: boolean) {
    this.#worker = new Worker(source, {
      eval: true,
      workerData: { dir, fsync },
      // Everything the worker allocates is a message that dies within a batch; a small young generation
      // collects it at once instead of letting each of the threads hold tens of MB (measured: idle RSS
      // after passivating 10 000 markets 190 MB -> 169 MB).
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    })
    // An idle worker must not keep the process alive; one with a batch in flight must.
    this.#worker.unref()
    this.#worker.on('message', (message: { id: number; results: (BatchError | null)[] }) => {
      const request = this.#requests.get(message.id)
      this.#requests.delete(message.id)
      if (this.#requests.size === 0) this.#worker.unref()
      request?.resolve(message.results.map((failure) => (failure ? toError(failure) : undefined)))
    })
    this.#worker.on('error', (error) => this.#fail(error))
    this.#worker.on('exit', (code) => this.#fail(new Error(`write worker exited with code ${code}`)))
  }

  /** Resolves to one result per item: `undefined` once that file is durable, else its error. */
  write(items: BatchItem[]): Promise<(Error | undefined)[]> {
    if (this.#failure) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      const id = this.#nextId++
      this.#requests.set(id, { resolve, reject })
      this.#worker.ref()
      this.#worker.postMessage({ id, items })
    })
  }

  /** Closes the directory descriptor and ends the thread, after the batches already posted. */
  async close(): Promise<void> {
    if (this.#failure) return
    await new Promise<void>((resolve, reject) => {
      const id = this.#nextId++
      this.#requests.set(id, { resolve: () => resolve(), reject })
      this.#worker.ref()
      this.#worker.postMessage({ id, close: true })
    })
    this.#failure = new Error('write worker closed')
    await this.#worker.terminate()
  }

  #fail(error: Error): void {
    this.#failure ??= error
    for (const request of this.#requests.values()) request.reject(error)
    this.#requests.clear()
  }
}
