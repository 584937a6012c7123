import { describeValue } from './describe-value.js'
import type { ChangeOperation } from './operations.js'

/** Payload of `change`: emitted once the change is durable. */
export interface ChangeEvent {
  market: string
  revision: number
  operation: ChangeOperation
  productId: string
}

/** Payload of `persisted`: emitted after each successful store. */
export interface PersistedEvent {
  market: string
  revision: number
  durationMs: number
}

/** Payload of `persistError`: emitted when a store fails. */
export interface PersistErrorEvent {
  market: string
  error: Error
}

/** Payload of `activate` and `passivate`. */
export interface MarketEvent {
  market: string
}

/** Every event a `MarketCache` emits, with its payload. */
export interface MarketCacheEvents {
  change: ChangeEvent
  persisted: PersistedEvent
  persistError: PersistErrorEvent
  activate: MarketEvent
  passivate: MarketEvent
}

/** @internal */
export type Emit = <E extends keyof MarketCacheEvents>(event: E, payload: MarketCacheEvents[E]) => void

/** Whatever a listener threw, as text (its stack when it has one); no value may make this throw into the actor. */
function describe(error: unknown): string {
  try {
    const stack = error instanceof Error ? error.stack : undefined
    if (typeof stack === 'string') return stack
  } catch {}
  return describeValue(error)
}

/**
 * @internal
 * A typed listener registry. A listener that throws is reported as a process warning and never
 * reaches the actor that emitted.
 */
export class Emitter {
  readonly #listeners = new Map<keyof MarketCacheEvents, Set<(payload: never) => void>>()

  on<E extends keyof MarketCacheEvents>(event: E, listener: (payload: MarketCacheEvents[E]) => void): void {
    const set = this.#listeners.get(event) ?? new Set()
    this.#listeners.set(event, set)
    set.add(listener)
  }

  off<E extends keyof MarketCacheEvents>(event: E, listener: (payload: MarketCacheEvents[E]) => void): void {
    this.#listeners.get(event)?.delete(listener)
  }

  readonly emit: Emit = (event, payload) => {
    const set = this.#listeners.get(event)
    if (!set) return
    for (const listener of [...set]) {
      try {
        ;(listener as (payload: unknown) => void)(payload)
      } catch (error) {
        process.emitWarning(`A \`${event}\` listener threw: ${describe(error)}`, { code: 'MARKET_SYSTEM_LISTENER' })
      }
    }
  }
}
