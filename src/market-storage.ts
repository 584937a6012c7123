import { type Database, isSharedDatabase, type MarketLock, type SharedDatabase } from './database.js'
import { databaseCall } from './database-call.js'
import { describeValue } from './describe-value.js'
import { CorruptDataError } from './errors.js'
import { fromSnapshot, type MarketState, toSnapshot } from './snapshot.js'

/**
 * @internal
 * One market's side of the `Database` seam, as its actor uses it: load a validated state, store one, and on a
 * shared database make every store conditional, hold the market's lock for a replay, and check revisions.
 */
export class MarketStorage {
  readonly #market: string
  readonly #database: Database
  readonly #shared: SharedDatabase | undefined
  readonly #checkRevision: ((market: string) => Promise<number>) | undefined
  #lock: MarketLock | undefined

  constructor(market: string, database: Database, checkRevision: ((market: string) => Promise<number>) | undefined) {
    this.#market = market
    this.#database = database
    this.#shared = isSharedDatabase(database) ? database : undefined
    this.#checkRevision = checkRevision
  }

  /** True when other instances may store this market, so reads wait for a revision check. */
  get shared(): boolean {
    return this.#checkRevision !== undefined && this.#lock === undefined
  }

  /** True while this instance holds the market's lock: nobody else can store it. */
  get locked(): boolean {
    return this.#lock !== undefined
  }

  /** True when the database can lock a market for a replay. */
  get lockable(): boolean {
    return this.#shared?.lock !== undefined
  }

  /**
   * Reads and validates whatever the database returns (a wrapper may have edited it): the only validation of a
   * load. With `exclusive`, the market's lock is taken first and held until `store` or `release`.
   * @throws {CorruptDataError} naming `locate(market)` when the stored value is not a snapshot of this market.
   */
  async load(exclusive: boolean): Promise<MarketState> {
    let stored: unknown
    try {
      if (exclusive && this.#shared?.lock) {
        this.#lock = await this.#shared.lock(this.#market)
        stored = await this.#lock.get()
      } else {
        stored = await this.#database.get(this.#market)
      }
    } catch (error) {
      this.release()
      throw error
    }
    const state = stored === undefined ? { revision: 0, products: new Map() } : fromSnapshot(stored, this.#market)
    if (typeof state !== 'string') return state
    this.release()
    const location = this.#location()
    throw new CorruptDataError(
      `Stored data of market \`${this.#market}\`${location === undefined ? '' : ` (${location})`} is corrupt: ${state}`,
      this.#market,
      location,
    )
  }

  /** Where the database says the market is stored, as text; a `locate` that throws names nothing. */
  #location(): string | undefined {
    try {
      const location: unknown = this.#database.locate?.(this.#market)
      return location === undefined ? undefined : describeValue(location)
    } catch {
      return undefined
    }
  }

  /**
   * Resolves `true` once `state` is durable, `false` when another instance stored since `expected` (shared
   * database only; nothing written). Ends a held lock. A conditional store that resolves with anything but a
   * boolean rejects: its outcome is unknown, so the actor reloads rather than acknowledge it.
   */
  store(state: MarketState, expected: number): Promise<boolean> {
    const lock = this.#lock
    this.#lock = undefined
    const shared = this.#shared
    if (!lock && !shared) {
      return databaseCall('store', () => this.#database.store(this.#market, toSnapshot(this.#market, state))).then(
        () => true,
      )
    }
    return databaseCall('storeIf', () => {
      const snapshot = toSnapshot(this.#market, state)
      return lock
        ? lock.storeIf(snapshot, expected)
        : (shared as SharedDatabase).storeIf(this.#market, snapshot, expected)
    }).then((written) => {
      if (typeof written === 'boolean') return written
      throw new TypeError(`Database.storeIf() resolved with ${describeValue(written)}, not true or false`)
    })
  }

  /** The stored revision, from a check that starts after this call (batched with other markets'). */
  checkRevision(): Promise<number> {
    return (this.#checkRevision as (market: string) => Promise<number>)(this.#market)
  }

  /** Ends a held lock without storing. */
  release(): void {
    const lock = this.#lock
    this.#lock = undefined
    if (lock === undefined) return
    // Failing to end it cleanly leaves nothing to undo: the database drops the lock with the connection.
    try {
      lock.release().catch(() => {})
    } catch {}
  }
}
