import { setImmediate } from 'node:timers'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Database } from './database.js'
import { describeValue } from './describe-value.js'
import { ConflictError, isMarketError, MailboxFullError, PersistenceError } from './errors.js'
import type { Emit } from './events.js'
import { Mailbox } from './mailbox.js'
import { MarketStorage } from './market-storage.js'
import type { Applied, Operation } from './operations.js'
import { type HeldReply, OutputGate } from './output-gate.js'
import type { MarketState } from './snapshot.js'

interface Call {
  operation: Operation<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

type Message = { kind: 'load'; backoffMs: number; exclusive: boolean } | ({ kind: 'call' } & Call)

/**
 * Where the actor's next store stands:
 *
 * | phase       | means                                     | leaves for                                               |
 * |-------------|-------------------------------------------|----------------------------------------------------------|
 * | `idle`      | nothing scheduled or in flight            | `scheduled` when a change is applied                     |
 * | `scheduled` | a store will start on a microtask/macrotask | `storing` if changes are unwritten, else `idle`        |
 * | `storing`   | one store in flight (never two)           | `scheduled` if changes wait, `idle` after success or failure |
 */
type StorePhase = 'idle' | 'scheduled' | 'storing'

/** @internal */
export interface MarketActorOptions {
  market: string
  database: Database
  emit: Emit
  /** Bound on calls queued plus replies held at the gate. */
  maxMailbox: number
  /** Shared database only: consecutive conflicts before the waiting calls reject with `ConflictError`. */
  maxConflicts: number
  /** Shared database only: the cache's batched revision check. */
  checkRevision?: (market: string) => Promise<number>
  /** Called whenever the actor has nothing queued, running, unwritten or held. */
  onIdle: () => void
}

/**
 * @internal
 * One market's actor: a mailbox drained one message at a time over the in-memory state, and an
 * output gate that releases a reply only once every change applied before it is durable.
 *
 * While a store is in flight, later messages keep being applied; the store that follows carries
 * all of them (group commit), so a burst of N changes costs far fewer than N stores.
 *
 * On a shared database other instances write too: stores are conditional on the revision last loaded
 * or stored, and a read waits for a revision check. When another instance got there first, the actor
 * reloads and applies the held calls again, in their order, before anything queued after them.
 */
export class MarketActor {
  readonly market: string
  readonly #storage: MarketStorage
  readonly #emit: Emit
  readonly #onIdle: () => void
  readonly #maxMailbox: number
  readonly #maxConflicts: number
  readonly #mailbox: Mailbox<Message>
  readonly #gate = new OutputGate<Call>()
  #state: MarketState | undefined
  /** The revision known stored; replies computed at a later revision are held. */
  #durable = 0
  #phase: StorePhase = 'idle'
  #loadQueued = false
  /** Conflicts and stale reads in a row, reset by a store or check that found this instance up to date. */
  #conflicts = 0
  #idleWaiters: (() => void)[] = []

  constructor(options: MarketActorOptions) {
    this.market = options.market
    this.#storage = new MarketStorage(options.market, options.database, options.checkRevision)
    this.#emit = options.emit
    this.#onIdle = options.onIdle
    this.#maxMailbox = options.maxMailbox
    this.#maxConflicts = options.maxConflicts
    this.#mailbox = new Mailbox<Message>({
      handle: (message) => this.#handle(message),
      onError: (error) => this.#reportBug(error),
      onIdle: () => this.#drained(),
    })
    // Deferred initialization: `load` is queued before any caller can reach this actor.
    this.#queueLoad(0, false)
  }

  /** Caller messages waiting in the mailbox. */
  get queued(): number {
    return this.#mailbox.size
  }

  /** Changes applied in memory and not yet durable. */
  get unwritten(): number {
    return this.#state ? this.#state.revision - this.#durable : 0
  }

  get idle(): boolean {
    return (
      !this.#mailbox.busy &&
      this.#phase === 'idle' &&
      this.#gate.size === 0 &&
      this.unwritten === 0 &&
      !this.#storage.locked
    )
  }

  /** Resolves once the actor is idle: every queued message has run and every change is durable. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  call<T>(operation: Operation<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // Held replies count: with a slow disk they, not the queue, are what grows.
      const holding = this.#mailbox.size + this.#gate.size
      if (holding >= this.#maxMailbox) {
        reject(new MailboxFullError(this.market, holding))
        return
      }
      if (this.#state === undefined && !this.#loadQueued) this.#queueLoad(0, false)
      this.#mailbox.post({ kind: 'call', operation, resolve: resolve as (value: unknown) => void, reject })
    })
  }

  #queueLoad(backoffMs: number, exclusive: boolean): void {
    this.#loadQueued = true
    this.#mailbox.postFront({ kind: 'load', backoffMs, exclusive })
  }

  #handle(message: Message): void | Promise<void> {
    if (message.kind === 'load') return this.#load(message.backoffMs, message.exclusive)
    this.#apply(message)
  }

  async #load(backoffMs: number, exclusive: boolean): Promise<void> {
    this.#state = undefined
    try {
      // node:timers/promises, so fake timers in a user's tests do not stall a replay.
      if (backoffMs > 0) await sleep(backoffMs)
      const state = await this.#storage.load(exclusive)
      this.#state = state
      this.#durable = state.revision
    } catch (cause) {
      // Calls queued behind a failed load cannot run; the next call tries the load again.
      const error = isMarketError(cause)
        ? cause
        : new PersistenceError(`Could not load market \`${this.market}\`: ${describeValue(cause)}`, this.market, cause)
      for (const message of this.#mailbox.takeAll()) if (message.kind === 'call') message.reject(error)
    } finally {
      this.#loadQueued = false
    }
  }

  #apply(call: Call): void {
    const state = this.#state
    if (state === undefined) {
      // A call always waits behind a load; reaching here would be a bug, so fail loudly rather than drop it.
      call.reject(new PersistenceError(`Market \`${this.market}\` is not loaded`, this.market, undefined))
      return
    }
    let applied: Applied<unknown>
    try {
      applied = call.operation(state, this.market)
    } catch (error) {
      // Errors such as ProductNotFoundError reveal state, so they wait at the gate like values.
      this.#reply(call, state.revision, () => call.reject(error), false)
      return
    }
    const { change } = applied
    if (change) {
      state.revision += 1
      const payload = { market: this.market, revision: state.revision, ...change }
      this.#reply(
        call,
        state.revision,
        () => {
          call.resolve(applied.value)
          this.#emit('change', payload)
        },
        true,
      )
      this.#scheduleStore(queueMicrotask)
    } else {
      this.#reply(call, state.revision, () => call.resolve(applied.value), false)
    }
  }

  #reply(call: Call, revision: number, settle: () => void, changed: boolean): void {
    if (!this.#storage.shared || changed) {
      // A change is confirmed by its own (conditional) store, which starts after it was applied; under the
      // lock no other instance can store, so the state read is the latest.
      if (revision <= this.#durable && this.#gate.size === 0) settle()
      else this.#gate.hold({ call, revision, settle })
      return
    }
    const reply: HeldReply<Call> = { call, revision, settle, check: { seen: undefined } }
    this.#gate.hold(reply)
    this.#storage.checkRevision().then(
      (seen) => {
        // A replay or a failed store already took the reply back; its answer concerns an older state.
        if (reply.gone) return
        ;(reply.check as { seen: number | undefined }).seen = seen
        this.#release()
      },
      (cause: unknown) => {
        if (!this.#gate.remove(reply)) return
        call.reject(
          new PersistenceError(
            `Could not check market \`${this.market}\`: ${describeValue(cause)}`,
            this.market,
            cause,
          ),
        )
        this.#release()
      },
    )
  }

  #release(): void {
    const outcome = this.#gate.release(this.#durable)
    // While a store is in flight its outcome decides: success makes the newer revision ours, conflict replays.
    if (outcome === 'stale' && this.#phase !== 'storing') this.#replay()
    else if (outcome === 'clear') this.#conflicts = 0
    this.#checkIdle()
  }

  /** By default a microtask, which lets the rest of a synchronous burst be applied first, so it shares one store. */
  #scheduleStore(schedule: (run: () => void) => void): void {
    if (this.#phase !== 'idle') return
    this.#phase = 'scheduled'
    schedule(() => {
      if (this.#phase === 'scheduled') this.#store()
    })
  }

  #store(): void {
    const state = this.#state
    if (state === undefined || state.revision === this.#durable) {
      this.#phase = 'idle'
      this.#checkIdle()
      return
    }
    this.#phase = 'storing'
    const revision = state.revision
    const expected = this.#durable
    const started = performance.now()
    // Replies computed before this store started and waiting for a check: if the store commits, the stored
    // revision was still `expected` at a moment after they were computed, which confirms them as a check would.
    const covered = this.#storage.shared ? this.#gate.checking() : []
    this.#storage.store(state, expected).then(
      (written) => {
        if (written === false) {
          this.#conflict()
          return
        }
        for (const { check } of covered) if (check) check.seen = Math.min(check.seen ?? expected, expected)
        this.#stored(revision, performance.now() - started)
      },
      (error: unknown) => this.#storeFailed(error),
    )
  }

  #stored(revision: number, durationMs: number): void {
    this.#phase = 'idle'
    this.#durable = revision
    this.#conflicts = 0
    this.#emit('persisted', { market: this.market, revision, durationMs })
    const before = this.#gate.size
    this.#release()
    if (this.#phase !== 'idle' || this.#state === undefined || this.#state.revision === this.#durable) {
      this.#checkIdle()
      return
    }
    if (this.#gate.size === before) {
      this.#store()
      return
    }
    // Changes are waiting. Let the callers just released make their next calls first (a macrotask runs
    // after all their microtasks), so those changes join the same store instead of waiting for one more.
    // node:timers' setImmediate, so fake timers in a user's tests do not stall the store.
    this.#scheduleStore(setImmediate)
  }

  #storeFailed(cause: unknown): void {
    this.#phase = 'idle'
    const error = new PersistenceError(
      `Could not store market \`${this.market}\`: ${describeValue(cause)}`,
      this.market,
      cause,
    )
    // Memory ran ahead of disk: drop it and reload before any queued call runs on lost changes.
    this.#state = undefined
    this.#queueLoad(0, false)
    for (const reply of this.#gate.takeAll()) {
      // A change an earlier store made durable (held behind a read's check) is not this failure's.
      if (reply.check === undefined && reply.revision <= this.#durable) reply.settle()
      else reply.call.reject(error)
    }
    this.#emit('persistError', { market: this.market, error })
  }

  #conflict(): void {
    this.#phase = 'idle'
    this.#replay()
  }

  /**
   * Another instance stored this market after this one loaded it: reload, then apply the held calls again
   * in their order, ahead of everything queued after them. Operations are pure functions of the state, so
   * this is safe. After `maxConflicts` in a row the held calls reject instead, with nothing of theirs stored.
   */
  #replay(): void {
    this.#conflicts += 1
    this.#state = undefined
    const replay: Call[] = []
    for (const reply of this.#gate.takeAll()) {
      // A change already stored (held behind a stale read) must not be applied twice.
      if (reply.check === undefined && reply.revision <= this.#durable) reply.settle()
      else replay.push(reply.call)
    }
    if (this.#conflicts >= this.#maxConflicts) {
      const error = new ConflictError(this.market, this.#conflicts)
      this.#conflicts = 0
      for (const call of replay) call.reject(error)
      this.#queueLoad(0, false)
      return
    }
    // The load first: prepending kicks an idle mailbox, which must find the load ahead of the replayed calls.
    // A first replay is optimistic, after a short randomized pause; a second in a row takes the market's lock
    // when the database has one, so the instance that keeps losing gets its turn.
    if (this.#conflicts >= 2 && this.#storage.lockable) this.#queueLoad(0, true)
    else this.#queueLoad(Math.random() * Math.min(100, 2 ** this.#conflicts), false)
    this.#mailbox.prepend(replay.map((call) => ({ kind: 'call', ...call })))
  }

  /** The mailbox ran dry: a lock taken for a replay that stored nothing (reads only) ends here. */
  #drained(): void {
    if (this.#storage.locked && this.#phase === 'idle' && this.unwritten === 0) this.#storage.release()
    this.#checkIdle()
  }

  #checkIdle(): void {
    if (!this.idle) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const resolve of waiters) resolve()
    this.#onIdle()
  }

  #reportBug(error: unknown): void {
    process.emitWarning(`market-system: actor \`${this.market}\` hit an unexpected error: ${describeValue(error)}`)
  }
}
