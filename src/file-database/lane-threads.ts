import type { FileWrite, FileWriter } from './write-files.js'

/**
 * @internal
 * The threads one lane writes through. A lane's batch is split into one share per thread; the returned
 * promise settles only once every share has: a thread that died fails only the files of its share, and
 * the lane starts no later write of any market of the batch while another thread may still rename an
 * older file of it. So no market ever has two writes in flight.
 */
export class LaneThreads {
  readonly #newWriter: () => FileWriter
  readonly #threads: (FileWriter | undefined)[]

  /** `newWriter` starts a thread (or, with a fault seam, a writer on the calling thread); each starts on first use. */
  constructor(count: number, newWriter: () => FileWriter) {
    this.#newWriter = newWriter
    this.#threads = Array.from({ length: count }, () => undefined)
  }

  /** One result per file: `undefined` once it is durable, else its own error. Never rejects. */
  async write(files: FileWrite[]): Promise<unknown[]> {
    // A thread blocks in each fsync; ext4 folds fsyncs that wait together into one journal commit,
    // so a batch split over threads costs about one commit instead of one per file.
    const count = Math.min(this.#threads.length, files.length)
    const size = Math.ceil(files.length / count)
    const shares = Array.from({ length: count }, (_, share) => files.slice(share * size, (share + 1) * size))
    const outcomes = await Promise.allSettled(shares.map((share, slot) => this.#start(slot, share)))
    return outcomes.flatMap((outcome, share) => {
      const length = (shares[share] as FileWrite[]).length
      if (outcome.status === 'rejected') return Array<unknown>(length).fill(outcome.reason ?? new Error('write failed'))
      // A missing result would read as success; a writer answers every file, so this only guards a bug.
      if (outcome.value.length !== length) {
        return Array<unknown>(length).fill(
          new Error(`write thread answered ${outcome.value.length} of ${length} files`),
        )
      }
      return outcome.value
    })
  }

  /** Ends every thread. A thread that dies meanwhile loses nothing (every write has settled) and is ignored. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#threads.map((thread) => thread?.close()))
  }

  /**
   * Starts `share` on the writer at `slot`. A writer that cannot be started (`new Worker` throws
   * ERR_WORKER_INIT_FAILED when the OS refuses a thread) fails only this share, as a rejection: thrown
   * here, it would skip the wait for the shares already started, and the lane would start its next
   * batch while a thread may still rename an older file of a market of this one.
   */
  #start(slot: number, share: FileWrite[]): Promise<(Error | undefined)[]> {
    try {
      return this.#thread(slot).write(share)
    } catch (error) {
      return Promise.reject(error ?? new Error('write thread could not be started'))
    }
  }

  /** The writer at `slot`, replaced if it died (its files already failed), so one crash fails no later store. */
  #thread(slot: number): FileWriter {
    let thread = this.#threads[slot]
    if (!thread?.alive) {
      thread = this.#newWriter()
      this.#threads[slot] = thread
    }
    return thread
  }
}
