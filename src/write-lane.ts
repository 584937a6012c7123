interface Pending {
  snapshot: unknown
  waiters: { resolve: () => void; reject: (error: unknown) => void }[]
}

/**
 * @internal
 * One serial write lane. Writes of one market never reorder because a market always uses the
 * same lane. A snapshot queued behind one not yet started replaces it (coalescing): only the
 * newest is written, and every waiter resolves once that newer snapshot is durable.
 */
export class WriteLane {
  readonly #write: (market: string, snapshot: unknown) => Promise<void>
  readonly #pending = new Map<string, Pending>()
  #running = false

  constructor(write: (market: string, snapshot: unknown) => Promise<void>) {
    this.#write = write
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

  async #drain(): Promise<void> {
    this.#running = true
    for (const [market, pending] of this.#pending) {
      this.#pending.delete(market)
      try {
        await this.#write(market, pending.snapshot)
        for (const waiter of pending.waiters) waiter.resolve()
      } catch (error) {
        for (const waiter of pending.waiters) waiter.reject(error)
      }
    }
    this.#running = false
  }
}
