// The module's own setImmediate, not the global one: fake timers in a user's tests (which replace the
// global) must not stall writes that only wait for the current turn of the event loop to finish.
import { setImmediate } from 'node:timers'

interface Pending {
  snapshot: unknown
  waiters: { resolve: () => void; reject: (error: unknown) => void }[]
}

/** @internal One market's newest snapshot, as handed to a batch writer. */
export interface LaneWrite {
  market: string
  snapshot: unknown
}

/** @internal Writes a lane's batch; resolves to one result per write: `undefined` or its own error. */
export type WriteBatch = (writes: LaneWrite[]) => Promise<unknown[]>

/**
 * @internal
 * One serial write lane. Writes of one market never reorder, and never overlap, because a market always
 * uses the same lane and a lane runs one batch at a time, to its end. A snapshot queued behind one not
 * yet started replaces it (coalescing): only the newest is written, and every waiter resolves once that
 * newer snapshot is durable.
 *
 * Every market queued behind the running batch goes into the next one, so the markets of a lane share
 * one directory fsync; each still succeeds or fails on its own.
 */
export class WriteLane {
  readonly #writeBatch: WriteBatch
  readonly #pending = new Map<string, Pending>()
  #running = false

  constructor(writeBatch: WriteBatch) {
    this.#writeBatch = writeBatch
  }

  enqueue(market: string, snapshot: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      const pending = this.#pending.get(market)
      if (pending) {
        pending.snapshot = snapshot
        pending.waiters.push({ resolve, reject })
      } else {
        this.#pending.set(market, { snapshot, waiters: [{ resolve, reject }] })
      }
      if (!this.#running) void this.#drain()
    })
  }

  #take(): [string, Pending][] {
    const batch = [...this.#pending]
    this.#pending.clear()
    return batch
  }

  async #drain(): Promise<void> {
    this.#running = true
    let first = true
    while (this.#pending.size > 0) {
      // Between batches, let the replies just released run, so the stores they cause join the next batch.
      if (!first) await new Promise((resolve) => setImmediate(resolve))
      first = false
      const batch = this.#take()
      let results: unknown[]
      try {
        results = await this.#writeBatch(batch.map(([market, pending]) => ({ market, snapshot: pending.snapshot })))
      } catch (error) {
        results = batch.map(() => error ?? new Error('write failed'))
      }
      batch.forEach(([, pending], i) => {
        const error = results[i]
        for (const waiter of pending.waiters) {
          if (error === undefined) waiter.resolve()
          else waiter.reject(error)
        }
      })
    }
    this.#running = false
  }
}
