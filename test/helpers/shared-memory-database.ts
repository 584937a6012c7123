import type { MarketLock, SharedDatabase } from '../../src/index.js'

interface Row {
  revision: number
  text: string
}

/** The storage several `SharedMemoryDatabase` instances share, as several processes share one PostgreSQL. */
export class SharedStore {
  readonly rows = new Map<string, Row>()
  /** Per market, the end of the last queued lock holder's turn: conditional stores wait for it, as on a row lock. */
  readonly turns = new Map<string, Promise<void>>()

  /** Writes as another instance would, bumping the revision; returns the new revision. */
  foreignWrite(market: string, edit: (products: Record<string, unknown>) => void): number {
    const row = this.rows.get(market)
    const snapshot = row
      ? JSON.parse(row.text)
      : { format: 1, market, revision: 0, products: {} as Record<string, unknown> }
    edit(snapshot.products)
    snapshot.revision += 1
    this.rows.set(market, { revision: snapshot.revision, text: JSON.stringify(snapshot) })
    return snapshot.revision
  }

  /** Sets one product's quantity as another instance would; returns the new revision. */
  setQuantity(market: string, id: string, quantity: number): number {
    return this.foreignWrite(market, (products) => {
      ;(products[id] as { quantity: number }).quantity = quantity
    })
  }

  snapshot(market: string): { revision: number; products: Record<string, { quantity: number }> } | undefined {
    const row = this.rows.get(market)
    return row && JSON.parse(row.text)
  }
}

/**
 * One instance's view of a `SharedStore`: a `SharedDatabase` double whose conditional stores and revision
 * checks complete on the next microtask, or, with `hold`, wait until the test lets them go.
 */
export class SharedMemoryDatabase implements SharedDatabase {
  readonly shared = true
  readonly backing: SharedStore
  /** While set, `storeIf` and `revisions` calls wait in `waiting` until `letGo()`. */
  hold = false
  readonly waiting: (() => void)[] = []
  readonly conflicts: string[] = []
  locksTaken = 0

  constructor(backing: SharedStore) {
    this.backing = backing
  }

  async #gate(): Promise<void> {
    if (this.hold) await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  /** Lets the oldest held call run. */
  letGo(): void {
    const next = this.waiting.shift()
    if (!next) throw new Error('nothing held')
    next()
  }

  async get(market: string): Promise<unknown | undefined> {
    const row = this.backing.rows.get(market)
    return row && JSON.parse(row.text)
  }

  async store(market: string, snapshot: unknown): Promise<void> {
    const revision = (snapshot as { revision: number }).revision
    this.backing.rows.set(market, { revision, text: JSON.stringify(snapshot) })
  }

  async storeIf(market: string, snapshot: unknown, expectedRevision: number): Promise<boolean> {
    await this.#gate()
    await this.backing.turns.get(market)
    return this.#storeIfNow(market, snapshot, expectedRevision)
  }

  async lock(market: string): Promise<MarketLock> {
    const previous = this.backing.turns.get(market)
    let end!: () => void
    const turn = new Promise<void>((resolve) => {
      end = resolve
    })
    const chained = (previous ?? Promise.resolve()).then(() => turn)
    this.backing.turns.set(market, chained)
    await previous
    this.locksTaken += 1
    let ended = false
    const finish = () => {
      if (ended) throw new Error('lock ended twice')
      ended = true
      end()
      if (this.backing.turns.get(market) === chained) this.backing.turns.delete(market)
    }
    return {
      get: () => this.get(market),
      storeIf: async (snapshot, expectedRevision) => {
        try {
          return this.#storeIfNow(market, snapshot, expectedRevision)
        } finally {
          finish()
        }
      },
      release: async () => finish(),
    }
  }

  #storeIfNow(market: string, snapshot: unknown, expectedRevision: number): boolean {
    const text = JSON.stringify(snapshot)
    if ((this.backing.rows.get(market)?.revision ?? 0) !== expectedRevision) {
      this.conflicts.push(market)
      return false
    }
    this.backing.rows.set(market, { revision: (snapshot as { revision: number }).revision, text })
    return true
  }

  async revisions(markets: readonly string[]): Promise<Map<string, number>> {
    await this.#gate()
    const found = new Map<string, number>()
    for (const market of markets) {
      const row = this.backing.rows.get(market)
      if (row) found.set(market, row.revision)
    }
    return found
  }

  async markets(): Promise<string[]> {
    return [...this.backing.rows.keys()]
  }

  async close(): Promise<void> {}
}
