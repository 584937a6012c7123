import { types } from 'node:util'
import type { SharedDatabase } from './database.js'
import { databaseCall } from './database-call.js'
import { describeValue } from './describe-value.js'

interface Deferred {
  promise: Promise<number>
  resolve: (revision: number) => void
  reject: (error: unknown) => void
}

function deferred(): Deferred {
  let resolve!: (revision: number) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<number>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * @internal
 * Batches revision checks of a shared database: every market asked for while no round has started yet
 * joins the next round, which is one `revisions()` call for all of them (across markets). A round starts
 * only after the previous one finished, so a caller is always answered by a query that started after it asked.
 */
export class RevisionCheck {
  readonly #database: SharedDatabase
  #next: Map<string, Deferred> | undefined
  #running = false

  constructor(database: SharedDatabase) {
    this.#database = database
  }

  /** Resolves to the revision of `market` stored at some moment after this call (0 when none is stored). */
  check(market: string): Promise<number> {
    this.#next ??= new Map()
    let entry = this.#next.get(market)
    if (!entry) {
      entry = deferred()
      this.#next.set(market, entry)
    }
    // A microtask, so the rest of a synchronous burst of reads joins this round.
    if (!this.#running) queueMicrotask(() => this.#start())
    return entry.promise
  }

  #start(): void {
    const round = this.#next
    if (this.#running || round === undefined) return
    this.#next = undefined
    this.#running = true
    const markets = [...round.keys()]
    databaseCall('revisions', () => this.#database.revisions(markets))
      .then((revisions) => {
        // types.isMap, not instanceof: a Map made in another realm (a vm context) is a Map too.
        if (!types.isMap(revisions)) {
          throw new TypeError(`Database.revisions() resolved with ${describeValue(revisions)}, not a Map`)
        }
        for (const [market, entry] of round) {
          // Only an absent market means "nothing stored": a null revision is a bad answer, not 0.
          const revision: unknown = revisions.has(market) ? revisions.get(market) : 0
          if (Number.isSafeInteger(revision) && (revision as number) >= 0) entry.resolve(revision as number)
          else entry.reject(new TypeError(`Database.revisions() gave ${describeValue(revision)} for a revision`))
        }
      })
      // Settles whatever the answer left pending (an entry settles once; later calls do nothing).
      .catch((error: unknown) => {
        for (const entry of round.values()) entry.reject(error)
      })
      .finally(() => {
        this.#running = false
        this.#start()
      })
  }
}
