import { nanoid } from 'nanoid'
import { z } from 'zod'
import { type Database, isSharedDatabase } from './database.js'
import { describeValue } from './describe-value.js'
import { ClosedError, isMarketError, PersistenceError, ValidationError } from './errors.js'
import { Emitter, type MarketCacheEvents } from './events.js'
import { FileDatabase, MAX_WORKERS } from './file-database/file-database.js'
import { MarketActor } from './market-actor.js'
import { MarketStock } from './market-stock.js'
import { parseMarketName } from './product.js'
import { RevisionCheck } from './revision-check.js'

/** Options of `MarketCache.start(options)`. */
export interface MarketCacheOptions {
  /**
   * Directory of the default `FileDatabase`; created if missing. Unused when `database` is given.
   * @default './persist'
   */
  dataDir?: string
  /** Any `Database`; replaces the default `FileDatabase`. */
  database?: Database
  /**
   * Write lanes of the default `FileDatabase`.
   * @default 3
   */
  workers?: number
  /**
   * fsync before acknowledging, in the default `FileDatabase`.
   * @default true
   */
  fsync?: boolean
  /**
   * Release an actor (and its memory) after this long with nothing queued or unwritten. Default: never.
   * At most 2 147 483 647 (about 24.8 days, the longest timer Node.js keeps); more is a `ValidationError`.
   */
  idleTimeoutMs?: number
  /**
   * A call that finds this many calls held by its market (queued in the mailbox, or applied and waiting
   * for their store) rejects at once with `MailboxFullError`: back-pressure instead of unbounded memory.
   * @default 10000
   */
  maxMailbox?: number
  /**
   * On a shared database (`PostgresDatabase`): how many times in a row another instance may store a market
   * first before the calls waiting for this instance's store reject with `ConflictError`.
   * @default 10
   */
  maxConflicts?: number
  /**
   * Generates product ids.
   * @default nanoid
   */
  generateId?: () => string
}

/** Numbers for monitoring and tests. */
export interface MarketCacheStats {
  /** Markets with a live actor. */
  activeMarkets: number
  /** Caller messages waiting in all mailboxes. */
  queuedMessages: number
  /** Changes applied in memory and not yet durable, over all markets. */
  pendingWrites: number
}

const isDatabase = (value: unknown): value is Database =>
  typeof value === 'object' &&
  value !== null &&
  ['get', 'store', 'markets', 'close'].every((key) => typeof (value as Record<string, unknown>)[key] === 'function')

const MAX_TIMER_MS = 2 ** 31 - 1

const optionsSchema = z.strictObject({
  dataDir: z.string().min(1).optional(),
  database: z.custom<Database>(isDatabase, 'Expected `database` to implement get, store, markets and close').optional(),
  workers: z.int().min(1).max(MAX_WORKERS).optional(),
  fsync: z.boolean().optional(),
  // setTimeout cuts anything longer to 1 ms, which would passivate at once.
  idleTimeoutMs: z.number().positive().max(MAX_TIMER_MS).optional(),
  maxMailbox: z.int().min(1).optional(),
  maxConflicts: z.int().min(1).optional(),
  generateId: z.custom<() => string>((value) => typeof value === 'function', 'Expected a function').optional(),
})

/**
 * @internal
 * Opens `database`, so that a failure reads the same wherever a database is opened (`MarketCache.start`, the
 * CLI): the library's own errors as they are, anything else as `PersistenceError` with it as the cause.
 */
export async function openDatabase(database: Database): Promise<void> {
  try {
    await database.open?.()
  } catch (cause) {
    if (isMarketError(cause)) throw cause
    throw new PersistenceError(`Could not open the database: ${describeValue(cause)}`, undefined, cause)
  }
}

/**
 * The registry: lazily spawns one actor per market name and owns the database.
 *
 * @example
 * ```ts
 * const cache = await MarketCache.start({ dataDir: './persist' })
 * const bobs = cache.market("Bob's list")
 * const id = await bobs.addProduct({ name: 'linguissa', quantity: 5, expirationDate: '2023-08-08', price: 23.45 })
 * await cache.close()
 * ```
 */
export class MarketCache {
  readonly #database: Database
  readonly #emitter = new Emitter()
  readonly #actors = new Map<string, MarketActor>()
  readonly #idleTimers = new Map<string, ReturnType<typeof setTimeout>>()
  readonly #idleTimeoutMs: number | undefined
  readonly #maxMailbox: number
  readonly #maxConflicts: number
  readonly #revisionCheck: RevisionCheck | undefined
  readonly #generateId: () => string
  #closing: Promise<void> | undefined

  private constructor(database: Database, options: MarketCacheOptions) {
    this.#database = database
    this.#idleTimeoutMs = options.idleTimeoutMs
    this.#maxMailbox = options.maxMailbox ?? 10_000
    this.#maxConflicts = options.maxConflicts ?? 10
    this.#revisionCheck = isSharedDatabase(database) ? new RevisionCheck(database) : undefined
    this.#generateId = options.generateId ?? (() => nanoid())
  }

  /**
   * Opens the database (taking the data directory's lock) and resolves to a started cache.
   * @throws {ValidationError} for unknown or malformed options.
   * @throws {DataDirLockedError} when another live cache or process owns the data directory.
   * @throws {PersistenceError} when the database cannot be opened (the storage error is the `cause`).
   */
  static async start(options: MarketCacheOptions = {}): Promise<MarketCache> {
    const parsed = optionsSchema.safeParse(options)
    if (!parsed.success) {
      throw new ValidationError(
        `Invalid MarketCache options: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
        parsed.error.issues,
      )
    }
    const database =
      options.database ??
      new FileDatabase({
        dir: options.dataDir ?? './persist',
        ...(options.workers === undefined ? {} : { workers: options.workers }),
        ...(options.fsync === undefined ? {} : { fsync: options.fsync }),
      })
    await openDatabase(database)
    return new MarketCache(database, options)
  }

  /**
   * The handle of market `name`, at once; its actor is spawned on first use.
   * @throws {ValidationError} unless `name` is a string of 1 to 200 characters without control characters.
   */
  market(name: string): MarketStock {
    const market = parseMarketName(name)
    return new MarketStock(market, () => this.#actorFor(market), this.#generateId)
  }

  #actorFor(market: string): MarketActor {
    if (this.#closing) throw new ClosedError()
    let actor = this.#actors.get(market)
    if (!actor) {
      actor = new MarketActor({
        market,
        database: this.#database,
        emit: this.#emitter.emit,
        maxMailbox: this.#maxMailbox,
        maxConflicts: this.#maxConflicts,
        ...(this.#revisionCheck && { checkRevision: this.#revisionCheck.check.bind(this.#revisionCheck) }),
        onIdle: () => this.#armIdleTimer(market),
      })
      this.#actors.set(market, actor)
      this.#emitter.emit('activate', { market })
    }
    return actor
  }

  #armIdleTimer(market: string): void {
    if (this.#idleTimeoutMs === undefined || this.#closing) return
    clearTimeout(this.#idleTimers.get(market))
    const timer = setTimeout(() => {
      this.#idleTimers.delete(market)
      if (!this.#actors.get(market)?.idle) return
      this.#actors.delete(market)
      this.#emitter.emit('passivate', { market })
    }, this.#idleTimeoutMs)
    // An idle timer alone must not keep the process alive.
    timer.unref?.()
    this.#idleTimers.set(market, timer)
  }

  /** Names of every market with stored data or a live actor, sorted as `Array.prototype.sort()` does. */
  async markets(): Promise<string[]> {
    if (this.#closing) throw new ClosedError()
    const names = new Set(await this.#database.markets())
    for (const market of this.#actors.keys()) names.add(market)
    return [...names].sort()
  }

  /** A point-in-time view for monitoring and tests. */
  stats(): MarketCacheStats {
    let queuedMessages = 0
    let pendingWrites = 0
    for (const actor of this.#actors.values()) {
      queuedMessages += actor.queued
      pendingWrites += actor.unwritten
    }
    return { activeMarkets: this.#actors.size, queuedMessages, pendingWrites }
  }

  /**
   * Subscribes to an event. A listener that throws is reported as a process warning and never breaks an actor.
   * @example
   * ```ts
   * cache.on('change', ({ market, operation, productId }) => console.log(market, operation, productId))
   * ```
   */
  on<E extends keyof MarketCacheEvents>(event: E, listener: (payload: MarketCacheEvents[E]) => void): this {
    this.#emitter.on(event, listener)
    return this
  }

  /** Removes a listener added with `on`. */
  off<E extends keyof MarketCacheEvents>(event: E, listener: (payload: MarketCacheEvents[E]) => void): this {
    this.#emitter.off(event, listener)
    return this
  }

  /**
   * Stops accepting calls, lets every queued message run and every write finish, stops the actors
   * and closes the database (releasing the data directory). Later calls reject with `ClosedError`.
   * Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    await Promise.all([...this.#actors.values()].map((actor) => actor.whenIdle()))
    for (const timer of this.#idleTimers.values()) clearTimeout(timer)
    this.#idleTimers.clear()
    this.#actors.clear()
    await this.#database.close()
  }
}
