import type { Database } from '../../src/index.js'

interface PendingStore {
  market: string
  snapshot: unknown
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * An in-memory `Database` double. By default stores complete at once; with `manual: true` every
 * store waits in `pending` until the test resolves or rejects it, so interleavings are controlled.
 */
export class MemoryDatabase implements Database {
  readonly data = new Map<string, string>()
  readonly pending: PendingStore[] = []
  readonly storeCalls: { market: string; revision: number }[] = []
  manual: boolean
  failNextGet: unknown

  constructor(options: { manual?: boolean } = {}) {
    this.manual = options.manual ?? false
  }

  async get(market: string): Promise<unknown | undefined> {
    if (this.failNextGet !== undefined) {
      const error = this.failNextGet
      this.failNextGet = undefined
      throw error
    }
    const text = this.data.get(market)
    return text === undefined ? undefined : JSON.parse(text)
  }

  store(market: string, snapshot: unknown): Promise<void> {
    this.storeCalls.push({ market, revision: (snapshot as { revision: number }).revision })
    const text = JSON.stringify(snapshot)
    if (!this.manual) {
      this.data.set(market, text)
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      this.pending.push({
        market,
        snapshot: JSON.parse(text),
        resolve: () => {
          this.data.set(market, text)
          resolve()
        },
        reject,
      })
    })
  }

  async markets(): Promise<string[]> {
    return [...this.data.keys()]
  }

  async close(): Promise<void> {}

  /** The stored snapshot of `market`, parsed. */
  stored(market: string): { revision: number; products: Record<string, unknown> } | undefined {
    const text = this.data.get(market)
    return text === undefined ? undefined : JSON.parse(text)
  }

  /** Completes the oldest pending store. */
  resolveNext(): void {
    const next = this.pending.shift()
    if (!next) throw new Error('no pending store')
    next.resolve()
  }

  rejectNext(error: unknown): void {
    const next = this.pending.shift()
    if (!next) throw new Error('no pending store')
    next.reject(error)
  }
}

/** Tracks whether a promise has settled, without awaiting it. */
export function track<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false }
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  )
  return state
}

/** Lets every queued microtask and I/O callback run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Waits until `predicate` holds, polling on the event loop (no wall-clock assertion). */
export async function until(predicate: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (predicate()) return
    await settle()
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Polls the event loop a bounded number of times; false when `predicate` never held (no wall-clock assertion). */
export async function eventually(predicate: () => boolean, rounds = 2_000): Promise<boolean> {
  for (let i = 0; i < rounds; i++) {
    if (predicate()) return true
    await settle()
  }
  return predicate()
}
