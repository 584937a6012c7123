import { setImmediate } from 'node:timers'
import type { Database } from './database.js'
import { CorruptDataError, MailboxFullError, MarketError, PersistenceError } from './errors.js'
import type { Emit } from './events.js'
import { Mailbox } from './mailbox.js'
import type { Applied, Operation } from './operations.js'
import { fromSnapshot, type MarketState, toSnapshot } from './snapshot.js'

interface Call {
  operation: Operation<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

type Message = { kind: 'load' } | ({ kind: 'call' } & Call)

/** A reply the output gate holds until the state it was computed from is durable. */
interface HeldReply {
  revision: number
  settle: () => void
  fail: (error: unknown) => void
}

/** @internal */
export interface MarketActorOptions {
  market: string
  database: Database
  emit: Emit
  maxMailbox: number
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
 */
export class MarketActor {
  readonly market: string
  readonly #database: Database
  readonly #emit: Emit
  readonly #onIdle: () => void
  readonly #mailbox: Mailbox<Message>
  #state: MarketState | undefined
  /** The revision known to be on disk; replies computed at a later revision are held. */
  #durable = 0
  #held: HeldReply[] = []
  #storing = false
  #storeScheduled = false
  #loadQueued = false
  #idleWaiters: (() => void)[] = []

  constructor(options: MarketActorOptions) {
    this.market = options.market
    this.#database = options.database
    this.#emit = options.emit
    this.#onIdle = options.onIdle
    this.#mailbox = new Mailbox<Message>({
      capacity: options.maxMailbox,
      handle: (message) => this.#handle(message),
      onError: (error) => this.#reportBug(error),
      onIdle: () => this.#checkIdle(),
    })
    // Deferred initialization: `load` is queued before any caller can reach this actor.
    this.#queueLoad()
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
      !this.#mailbox.busy && !this.#storing && !this.#storeScheduled && this.#held.length === 0 && this.unwritten === 0
    )
  }

  /** Resolves once the actor is idle: every queued message has run and every change is durable. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  call<T>(operation: Operation<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#state === undefined && !this.#loadQueued) this.#queueLoad()
      const accepted = this.#mailbox.offer({
        kind: 'call',
        operation,
        resolve: resolve as (value: unknown) => void,
        reject,
      })
      if (!accepted) reject(new MailboxFullError(this.market, this.#mailbox.size))
    })
  }

  #queueLoad(): void {
    this.#loadQueued = true
    this.#mailbox.postFront({ kind: 'load' })
  }

  #handle(message: Message): void | Promise<void> {
    if (message.kind === 'load') return this.#load()
    this.#apply(message)
  }

  async #load(): Promise<void> {
    this.#state = undefined
    try {
      const stored = await this.#database.get(this.market)
      const state = stored === undefined ? { revision: 0, products: new Map() } : fromSnapshot(stored, this.market)
      if (typeof state === 'string') {
        throw new CorruptDataError(
          `Stored data of market \`${this.market}\` is corrupt: ${state}`,
          this.market,
          undefined,
        )
      }
      this.#state = state
      this.#durable = state.revision
    } catch (cause) {
      // Calls queued behind a failed load cannot run; the next call tries the load again.
      const error =
        cause instanceof MarketError
          ? cause
          : new PersistenceError(`Could not load market \`${this.market}\`: ${String(cause)}`, this.market, cause)
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
      this.#reply(state.revision, () => call.reject(error), call.reject)
      return
    }
    const { change } = applied
    if (change) {
      state.revision += 1
      const payload = { market: this.market, revision: state.revision, ...change }
      this.#reply(
        state.revision,
        () => {
          call.resolve(applied.value)
          this.#emit('change', payload)
        },
        call.reject,
      )
      this.#scheduleStore()
    } else {
      this.#reply(state.revision, () => call.resolve(applied.value), call.reject)
    }
  }

  #reply(revision: number, settle: () => void, fail: (error: unknown) => void): void {
    if (revision <= this.#durable) settle()
    else this.#held.push({ revision, settle, fail })
  }

  /** By default a microtask, which lets the rest of a synchronous burst be applied first, so it shares one store. */
  #scheduleStore(schedule: (run: () => void) => void = queueMicrotask): void {
    if (this.#storing || this.#storeScheduled) return
    this.#storeScheduled = true
    schedule(() => {
      this.#storeScheduled = false
      this.#store()
    })
  }

  #store(): void {
    const state = this.#state
    if (this.#storing || state === undefined || state.revision === this.#durable) {
      this.#checkIdle()
      return
    }
    this.#storing = true
    const revision = state.revision
    const started = performance.now()
    let stored: Promise<void>
    try {
      stored = this.#database.store(this.market, toSnapshot(this.market, state))
    } catch (error) {
      stored = Promise.reject(error)
    }
    stored.then(
      () => this.#stored(revision, performance.now() - started),
      (error: unknown) => this.#storeFailed(error),
    )
  }

  #stored(revision: number, durationMs: number): void {
    this.#storing = false
    this.#durable = revision
    this.#emit('persisted', { market: this.market, revision, durationMs })
    let released = 0
    while (released < this.#held.length && (this.#held[released] as HeldReply).revision <= revision) released++
    const replies = this.#held.splice(0, released)
    for (const reply of replies) reply.settle()
    if (replies.length === 0 || this.#state === undefined || this.#state.revision === this.#durable) {
      this.#store()
      return
    }
    // Changes are waiting. Let the callers just released make their next calls first (a macrotask runs
    // after all their microtasks), so those changes join the same store instead of waiting for one more.
    // node:timers' setImmediate, so fake timers in a user's tests do not stall the store.
    this.#scheduleStore(setImmediate)
  }

  #storeFailed(cause: unknown): void {
    this.#storing = false
    const error = new PersistenceError(
      `Could not store market \`${this.market}\`: ${cause instanceof Error ? cause.message : String(cause)}`,
      this.market,
      cause,
    )
    // Memory ran ahead of disk: drop it and reload before any queued call runs on lost changes.
    this.#state = undefined
    this.#queueLoad()
    const replies = this.#held
    this.#held = []
    for (const reply of replies) reply.fail(error)
    this.#emit('persistError', { market: this.market, error })
  }

  #checkIdle(): void {
    if (!this.idle) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const resolve of waiters) resolve()
    this.#onIdle()
  }

  #reportBug(error: unknown): void {
    process.emitWarning(`market-system: actor \`${this.market}\` hit an unexpected error: ${String(error)}`)
  }
}
