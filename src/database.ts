/**
 * The storage seam. `FileDatabase` is the default; pass any implementation as
 * `MarketCache.start({ database })`, for example to store snapshots elsewhere or to inject faults in tests.
 *
 * A snapshot is a plain JSON value built by the actor: `get` must return a value equal to the last one
 * `store` resolved for, and `store` must resolve only once the snapshot is durable. The actor validates
 * whatever `get` returns, so a wrapper may migrate or edit the value before handing it on.
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
  /** Optional: where `market` is stored, as a person reads it (a file path, a table row), named in `CorruptDataError`. */
  locate?(market: string): string
}

/**
 * A `Database` that several processes use at once (`PostgresDatabase`). The actor sees `shared: true` and
 * then never trusts its memory alone: every store is conditional on the revision it last loaded or stored,
 * and a read is released only after a revision check that started after the read arrived.
 */
export interface SharedDatabase extends Database {
  readonly shared: true
  /**
   * Stores `snapshot` (whose `revision` is the new one) only if the stored revision of `market` is still
   * `expectedRevision` (0: no stored snapshot). Resolves `true` once durable, `false` when another writer
   * stored first (nothing written). Rejects when the outcome is unknown or the store failed.
   */
  storeIf(market: string, snapshot: unknown, expectedRevision: number): Promise<boolean>
  /** The stored revision of each of `markets` in one round trip; a market with nothing stored is absent. */
  revisions(markets: readonly string[]): Promise<Map<string, number>>
  /**
   * Optional: takes `market` for this instance until the returned lock ends, so that other instances'
   * conditional stores of it wait and then find a newer revision. The actor takes it after conflicts in a
   * row, so instances contending for one hot market take turns instead of one starving the others.
   */
  lock?(market: string): Promise<MarketLock>
}

/** A market held by one instance (`SharedDatabase.lock`); it ends with `storeIf` or `release`, exactly once. */
export interface MarketLock {
  /** The stored snapshot, read under the lock. */
  get(): Promise<unknown | undefined>
  /** `SharedDatabase.storeIf` under the lock, which it then ends (committing). */
  storeIf(snapshot: unknown, expectedRevision: number): Promise<boolean>
  /** Ends the lock without storing. */
  release(): Promise<void>
}

/** @internal */
export function isSharedDatabase(database: Database): database is SharedDatabase {
  const candidate = database as Partial<SharedDatabase>
  return (
    candidate.shared === true && typeof candidate.storeIf === 'function' && typeof candidate.revisions === 'function'
  )
}
