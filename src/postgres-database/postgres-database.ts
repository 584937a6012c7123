import type { Pool } from 'pg'
import type { MarketLock, SharedDatabase } from '../database.js'
import { ClosedError, CorruptDataError, ValidationError } from '../errors.js'
import { boundedQuery, type Query } from './bounded-query.js'
import { loadPg } from './load-pg.js'
import { fromStoredName, toStoredName } from './market-names.js'
import { type ParsedOptions, type PostgresDatabaseOptions, parseOptions } from './options.js'
import { openSession } from './session.js'
import { ensureTable } from './table-schema.js'

const pg = loadPg()

const revisionOf = (snapshot: unknown): number => {
  const revision = (snapshot as { revision?: unknown } | null)?.revision
  return typeof revision === 'number' && Number.isSafeInteger(revision) ? revision : 0
}

/** A little before the client's own timeout, so the server's answer (even a cancellation) arrives in time. */
const serverTimeout = (queryTimeoutMs: number) => Math.max(1, Math.floor(queryTimeoutMs * 0.8))

/**
 * How long a market's lock may sit idle between its statements before the server ends it: the holder only
 * loads, applies in memory and stores, so a longer pause means it froze or its host died, and the other
 * instances must not wait on its row for long.
 */
const LOCK_IDLE_MS = 1000

/** SQLSTATE of a serialization failure: under REPEATABLE READ or SERIALIZABLE a concurrent write, i.e. a conflict. */
const SERIALIZATION_FAILURE = '40001'

/**
 * Parses `connectionString` as pg will, so that a string pg cannot use is a `ValidationError` now rather than a
 * failed first call (and a pool that then never ends). The string is not echoed: it may hold a password.
 * @throws {ValidationError}
 */
function checkConnectionString(connectionString: string): void {
  let port: number
  try {
    port = new pg.Client({ connectionString }).port
  } catch (cause) {
    throw new ValidationError(`Expected \`connectionString\` to be a PostgreSQL URL pg can parse: ${String(cause)}`)
  }
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ValidationError(`Expected the port of \`connectionString\` to be an integer from 1 to 65535`)
  }
}

/** An idle pooled connection that drops is already out of the pool; the next call opens a new one. */
const ignoreIdleError = () => {}

/**
 * A `Database` that several processes share: one row per market in a PostgreSQL table, stored only if
 * nobody else stored since (`storeIf`), with the revisions of many markets in one round trip (`revisions`).
 * Every call settles within `connectionTimeoutMs + queryTimeoutMs`, with the `pg` error when it fails.
 *
 * @example
 * ```ts
 * import { MarketCache } from 'market-system'
 * import { PostgresDatabase } from 'market-system/postgres'
 *
 * const cache = await MarketCache.start({
 *   database: new PostgresDatabase({ connectionString: process.env.DATABASE_URL }),
 * })
 * ```
 * @throws {ValidationError} from the constructor, for malformed options.
 */
export class PostgresDatabase implements SharedDatabase {
  readonly shared = true as const
  readonly #options: ParsedOptions
  readonly #pool: Pool
  readonly #query: Query
  /** Unconditional stores of one market, chained so that they land in the order they were called. */
  readonly #tails = new Map<string, Promise<unknown>>()
  readonly #inFlight = new Set<Promise<unknown>>()
  #located: string
  #opening: Promise<void> | undefined
  #closing: Promise<void> | undefined

  constructor(options: PostgresDatabaseOptions) {
    this.#options = parseOptions(options)
    const { connectionString, connectionTimeoutMs, queryTimeoutMs, max } = this.#options
    if (connectionString !== undefined) checkConnectionString(connectionString)
    this.#pool =
      this.#options.pool ??
      new pg.Pool({
        connectionString,
        max,
        connectionTimeoutMillis: connectionTimeoutMs,
        query_timeout: queryTimeoutMs,
        // The server gives up first, so a statement the client stopped waiting for is not left queued (on a
        // row lock, say) to commit later, after its caller was told it failed and the market reloaded.
        statement_timeout: serverTimeout(queryTimeoutMs),
        keepAlive: true,
        // Idle connections alone do not keep a process alive that forgot to close the cache.
        allowExitOnIdle: true,
      })
    // A pool emits `error` for an idle connection that drops (a server restart); with no listener that ends
    // the process. Attached to a user's pool too, and removed again by `close()`.
    this.#pool.on('error', ignoreIdleError)
    this.#query = boundedQuery(this.#pool, this.#options)
    this.#located = this.#options.table
  }

  /**
   * Creates the table if it is missing and checks its shape. Idempotent; other methods call it first, and a
   * failed open is tried again by the next call.
   * @throws {Error} naming the table when it exists with another shape; the `pg` error when the server cannot
   * be reached or refuses (a missing schema, no privilege to create the table).
   * @throws {ClosedError} after `close()`.
   */
  open(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('PostgresDatabase'))
    this.#opening ??= ensureTable(this.#query, this.#options.table).then(
      (located) => {
        this.#located = located
      },
      (error: unknown) => {
        this.#opening = undefined
        throw error
      },
    )
    return this.#opening
  }

  /** Where `market` is stored, as `CorruptDataError` names it: ``table "public"."market_system_markets", row `Bob` ``. */
  locate(market: string): string {
    return `table ${this.#located}, row \`${market}\``
  }

  get(market: string): Promise<unknown | undefined> {
    return this.#run(() => this.#get(this.#query, market, ''))
  }

  async #get(query: Query, market: string, lockClause: string): Promise<unknown | undefined> {
    // As text, parsed here: a user's pool may have its own json type parser.
    const { rows } = await query<{ revision: string | number; snapshot: string }>(
      `SELECT revision, snapshot::text AS snapshot FROM ${this.#options.table} WHERE name = $1${lockClause}`,
      [toStoredName(market)],
    )
    const row = rows[0]
    if (!row) return undefined
    // A `json` column holds valid JSON only: the server checked it on the way in.
    const value: unknown = JSON.parse(row.snapshot)
    // The actor validates the snapshot (and names `locate(market)` when it fails). The row's `revision`
    // column must agree with it: conditional stores compare the column with the revision the actor loaded.
    const revision = (value as { revision?: unknown } | null)?.revision
    if (Number.isSafeInteger(revision) && Number(row.revision) !== revision) {
      throw new CorruptDataError(
        `Stored data of market \`${market}\` (${this.locate(market)}) is corrupt: column \`revision\` is ${row.revision} but the snapshot's revision is ${revision}`,
        market,
        this.locate(market),
      )
    }
    return value
  }

  /** Stores unconditionally (an import); stores of one market land in the order they were called. */
  store(market: string, snapshot: unknown): Promise<void> {
    const previous = this.#tails.get(market) ?? Promise.resolve()
    const stored = this.#run(async () => {
      await previous.catch(() => {})
      await this.#query(
        `INSERT INTO ${this.#options.table} (name, revision, snapshot, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (name) DO UPDATE
           SET revision = EXCLUDED.revision, snapshot = EXCLUDED.snapshot, updated_at = EXCLUDED.updated_at`,
        [toStoredName(market), revisionOf(snapshot), JSON.stringify(snapshot)],
      )
    })
    this.#tails.set(market, stored)
    const forget = () => {
      if (this.#tails.get(market) === stored) this.#tails.delete(market)
    }
    stored.then(forget, forget)
    return stored
  }

  /**
   * Stores `snapshot` (its `revision` becomes the row's) only if the row's revision is `expectedRevision`, 0
   * meaning no row (or one at revision 0), in one statement. Resolves `false` when another writer stored first.
   * Rejects when the outcome is unknown (the connection dropped or timed out mid-statement).
   */
  storeIf(market: string, snapshot: unknown, expectedRevision: number): Promise<boolean> {
    return this.#run(() => this.#storeIf(this.#query, market, snapshot, expectedRevision))
  }

  async #storeIf(query: Query, market: string, snapshot: unknown, expectedRevision: number): Promise<boolean> {
    const values = [toStoredName(market), revisionOf(snapshot), JSON.stringify(snapshot), expectedRevision]
    // READ COMMITTED re-checks the WHERE clause on the row version a concurrent writer committed, and an
    // INSERT that finds a row committed meanwhile takes the conflict branch: a lost race is 0 rows, never both.
    const stored = query(
      expectedRevision === 0
        ? `INSERT INTO ${this.#options.table} AS t (name, revision, snapshot, updated_at) VALUES ($1, $2, $3, now())
           ON CONFLICT (name) DO UPDATE
             SET revision = EXCLUDED.revision, snapshot = EXCLUDED.snapshot, updated_at = EXCLUDED.updated_at
             WHERE t.revision = $4`
        : `UPDATE ${this.#options.table} SET revision = $2, snapshot = $3, updated_at = now()
           WHERE name = $1 AND revision = $4`,
      values,
    )
    try {
      return (await stored).rowCount === 1
    } catch (error) {
      // A server whose default isolation is stricter than READ COMMITTED reports a concurrent write this way.
      if ((error as { code?: string }).code === SERIALIZATION_FAILURE) return false
      throw error
    }
  }

  /**
   * Takes `market` for this instance: a transaction of its own that holds the market's row (`FOR UPDATE`, so
   * other instances' conditional stores wait for it and then find the new revision) and an advisory lock on
   * its name (for a market with no row yet). It ends with the lock's `storeIf` (committing) or `release`.
   */
  lock(market: string): Promise<MarketLock> {
    return this.#run(async () => {
      const session = await openSession(this.#pool, this.#options)
      try {
        // A holder that freezes between statements (SIGSTOP, a VM pause) or whose host dies must not keep the
        // row from the other instances: the server ends its transaction, and the lock, once idle this long.
        const statementMs = serverTimeout(this.#options.queryTimeoutMs)
        await session.query(
          `SET LOCAL idle_in_transaction_session_timeout = ${LOCK_IDLE_MS}; SET LOCAL statement_timeout = ${statementMs}`,
        )
        // The table's name holds no `/` (it is an identifier), so the first one ends it: one key per market.
        await session.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          `${this.#options.table}/${toStoredName(market)}`,
        ])
      } catch (error) {
        await session.end(false).catch(() => {})
        throw error
      }
      let ending: Promise<unknown> | undefined
      const end = <T>(work: Promise<T>, commit: boolean): Promise<T> => {
        const ended = work.then(
          async (value) => {
            await session.end(commit)
            return value
          },
          async (error: unknown) => {
            await session.end(false).catch(() => {})
            throw error
          },
        )
        ending = ended
        this.#track(ended)
        return ended
      }
      return {
        get: () => this.#get(session.query, market, ' FOR UPDATE'),
        storeIf: (snapshot, expectedRevision) => {
          // The store and its COMMIT together are one call, bounded like any other.
          session.within(this.#options.queryTimeoutMs)
          return end(this.#storeIf(session.query, market, snapshot, expectedRevision), true)
        },
        release: () => (ending as Promise<void> | undefined) ?? end(Promise.resolve(), false),
      }
    })
  }

  revisions(markets: readonly string[]): Promise<Map<string, number>> {
    return this.#run(async () => {
      const revisions = new Map<string, number>()
      if (markets.length === 0) return revisions
      const { rows } = await this.#query<{ name: string; revision: string | number }>(
        `SELECT name, revision FROM ${this.#options.table} WHERE name = ANY($1::text[])`,
        [markets.map(toStoredName)],
      )
      for (const row of rows) revisions.set(fromStoredName(row.name), Number(row.revision))
      return revisions
    })
  }

  markets(): Promise<string[]> {
    return this.#run(async () => {
      const { rows } = await this.#query<{ name: string }>(`SELECT name FROM ${this.#options.table}`)
      return rows.map((row) => fromStoredName(row.name))
    })
  }

  /** Waits for calls in flight, then ends the pool it created (a `pool` you passed stays open). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#inFlight])
      this.#pool.removeListener('error', ignoreIdleError)
      if (!this.#options.pool) await this.#pool.end()
    })()
    return this.#closing
  }

  #run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new ClosedError('PostgresDatabase'))
    return this.#track(this.open().then(work))
  }

  /** close() waits for it. */
  #track<T>(running: Promise<T>): Promise<T> {
    this.#inFlight.add(running)
    const forget = () => this.#inFlight.delete(running)
    running.then(forget, forget)
    return running
  }
}
