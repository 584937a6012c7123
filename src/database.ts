/**
 * The storage seam. `FileDatabase` is the default; pass any implementation as
 * `MarketCache.start({ database })`, for example to store snapshots elsewhere or to inject faults in tests.
 *
 * A snapshot is a plain JSON value built by the actor: `get` must return a value equal to the last one
 * `store` resolved for, and `store` must resolve only once the snapshot is durable.
 */
export interface Database {
  /** Optional and idempotent; `MarketCache.start` awaits it so that setup errors surface at start. */
  open?(): Promise<void>
  /** The last stored snapshot of `market`, or `undefined` when there is none. */
  get(market: string): Promise<unknown | undefined>
  /** Resolves once `snapshot` is durable; rejects, leaving the previous snapshot in place, when it is not. */
  store(market: string, snapshot: unknown): Promise<void>
  /** Names of every market with a stored snapshot, in any order. */
  markets(): Promise<string[]>
  /** Finishes pending stores and releases the storage. */
  close(): Promise<void>
}
