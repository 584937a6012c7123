import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { fileNameFor, isMarketFile } from '../src/file-database/file-names.js'
import {
  type ChangeEvent,
  ClosedError,
  type Database,
  FileDatabase,
  MarketCache,
  type MarketStock,
  type PersistErrorEvent,
  PersistenceError,
  type Product,
} from '../src/index.js'
import { MemoryDatabase, settle, until } from './helpers/memory-database.js'

// Fake only the idle timers: passivation then happens exactly at `passivate` steps, so a shrunk
// counterexample replays the same way, while real I/O callbacks (setImmediate) keep running.
beforeAll(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
})
afterAll(() => {
  vi.useRealTimers()
})

const MARKETS = ["Bob's list", 'Ünïcödé ✓', 'a/../b'] as const
const IDLE_MS = 50

/** A Database wrapper that fails chosen stores and loads of chosen markets, as a disk would. */
class FlakyDatabase implements Database {
  readonly failStores = new Map<string, number>()
  readonly failGet = new Set<string>()
  readonly injected: Error[] = []

  constructor(readonly inner: FileDatabase) {}

  #fault(market: string, what: string): Error {
    const error = Object.assign(new Error(`EIO: injected ${what} fault for ${market}`), { code: 'EIO' })
    this.injected.push(error)
    return error
  }

  open(): Promise<void> {
    return this.inner.open()
  }

  async get(market: string): Promise<unknown> {
    if (this.failGet.delete(market)) throw this.#fault(market, 'read')
    return this.inner.get(market)
  }

  async store(market: string, snapshot: unknown): Promise<void> {
    const left = this.failStores.get(market) ?? 0
    if (left > 0) {
      this.failStores.set(market, left - 1)
      await settle()
      throw this.#fault(market, 'write')
    }
    return this.inner.store(market, snapshot)
  }

  markets(): Promise<string[]> {
    return this.inner.markets()
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}

// ---- the reference model: plain maps, no actors, no storage ----

interface ModelMarket {
  revision: number
  products: Map<string, Product>
  /** Every id ever added, so calls also name deleted products. */
  known: string[]
}

type Outcome = { ok: unknown } | { error: string }

type Kind = 'add' | 'get' | 'list' | 'update' | 'delete' | 'adjust'

interface OpSpec {
  market: number
  handle: number
  kind: Kind
  product: unknown
  idPick: number
  missing: boolean
  delta: number
}

type Step =
  | { t: 'ops'; ops: OpSpec[]; overlap: boolean }
  | { t: 'restart'; pending: OpSpec[]; failLoad: number | undefined }
  | { t: 'passivate' }
  | { t: 'failStores'; market: number; times: number }

/** What the public boundary rejects before the actor sees the call. */
function boundaryError(spec: OpSpec): boolean {
  const validProduct = productSchemaCheck(spec.product)
  if (spec.kind === 'add' || spec.kind === 'update') return !validProduct
  if (spec.kind === 'adjust') return !Number.isSafeInteger(spec.delta)
  return false
}

const DATE = /^\d{4}-\d{2}-\d{2}$/
function productSchemaCheck(value: unknown): value is Product {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const record = value as Record<string, unknown>
  const keys = Object.keys(record).sort()
  if (keys.join() !== 'expirationDate,name,price,quantity') return false
  const { name, quantity, expirationDate, price } = record
  if (typeof name !== 'string' || name.trim().length === 0 || name.trim().length > 200) return false
  if (!Number.isSafeInteger(quantity) || (quantity as number) < 0) return false
  if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) return false
  if (typeof expirationDate !== 'string' || !DATE.test(expirationDate)) return false
  const [y, m, d] = expirationDate.split('-').map(Number) as [number, number, number]
  const date = new Date(0)
  date.setUTCFullYear(y, m - 1, d)
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d
}

const normalize = (product: Product): Product => ({ ...product, name: product.name.trim() })

/** Applies one call to the model; returns its outcome and whether it changed the market. */
function applyModel(model: ModelMarket, spec: OpSpec, id: string, newId: string | undefined): [Outcome, boolean] {
  if (boundaryError(spec)) return [{ error: 'ValidationError' }, false]
  const product = spec.product as Product
  switch (spec.kind) {
    case 'add':
      model.products.set(newId as string, normalize(product))
      model.known.push(newId as string)
      return [{ ok: newId }, true]
    case 'get': {
      const found = model.products.get(id)
      return [{ ok: found && { ...found } }, false]
    }
    case 'list':
      return [{ ok: [...model.products].map(([key, value]) => ({ id: key, ...value })) }, false]
    case 'update':
      if (!model.products.has(id)) return [{ error: 'ProductNotFoundError' }, false]
      model.products.set(id, normalize(product))
      return [{ ok: undefined }, true]
    case 'delete': {
      const existed = model.products.delete(id)
      return [{ ok: existed }, existed]
    }
    case 'adjust': {
      const found = model.products.get(id)
      if (!found) return [{ error: 'ProductNotFoundError' }, false]
      if (spec.delta === 0) return [{ ok: found.quantity }, false]
      const quantity = found.quantity + spec.delta
      if (quantity < 0) return [{ error: 'InsufficientStockError' }, false]
      if (!Number.isSafeInteger(quantity)) return [{ error: 'ValidationError' }, false]
      model.products.set(id, { ...found, quantity })
      return [{ ok: quantity }, true]
    }
  }
}

const cloneModel = (model: ModelMarket): ModelMarket => ({
  revision: model.revision,
  products: new Map(model.products),
  known: [...model.known],
})

// ---- generators ----

const validProduct = fc.record({
  name: fc.constantFrom('linguissa', '  padded  ', 'ß', '🍋 lemon', 'x'.repeat(200)),
  quantity: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constant(Number.MAX_SAFE_INTEGER - 3)),
  expirationDate: fc.constantFrom('2023-08-08', '2024-02-29', '0001-01-01'),
  price: fc.integer({ min: 0, max: 100_000 }).map((cents) => cents / 100),
})

const invalidProduct = fc.oneof(
  validProduct.map((p) => ({ ...p, quantity: -1 })),
  validProduct.map((p) => ({ ...p, quantity: 1.5 })),
  validProduct.map((p) => ({ ...p, expirationDate: '2023-02-30' })),
  validProduct.map((p) => ({ ...p, expirate_date: '2023-08-08' })),
  validProduct.map((p) => ({ ...p, name: '   ' })),
  validProduct.map((p) => ({ ...p, price: Number.NaN })),
  validProduct.map(({ price: _price, ...rest }) => rest),
  fc.constantFrom(null, 'product', 42, []),
)

const opSpec: fc.Arbitrary<OpSpec> = fc.record({
  market: fc.nat(MARKETS.length - 1),
  handle: fc.nat(1),
  kind: fc.constantFrom<Kind>('add', 'add', 'get', 'list', 'update', 'delete', 'adjust', 'adjust'),
  product: fc.oneof({ weight: 4, arbitrary: validProduct }, { weight: 1, arbitrary: invalidProduct }),
  idPick: fc.nat(),
  missing: fc.boolean(),
  delta: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: -6, max: 6 }) },
    { weight: 1, arbitrary: fc.constantFrom(Number.MAX_SAFE_INTEGER, 1.5) },
  ),
})

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('ops' as const),
      ops: fc.array(opSpec, { minLength: 1, maxLength: 8 }),
      overlap: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('restart' as const),
      pending: fc.array(opSpec, { maxLength: 4 }),
      failLoad: fc.option(fc.nat(MARKETS.length - 1), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'passivate' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('failStores' as const),
      market: fc.nat(MARKETS.length - 1),
      times: fc.integer({ min: 1, max: 3 }),
    }),
  },
)

// ---- the runner ----

const outcomeOf = (result: PromiseSettledResult<unknown>): Outcome =>
  result.status === 'fulfilled' ? { ok: result.value } : { error: (result.reason as Error).constructor.name }

class Run {
  readonly models: ModelMarket[] = MARKETS.map(() => ({ revision: 0, products: new Map(), known: [] }))
  readonly dir: string
  cache!: MarketCache
  database!: FlakyDatabase
  handles: MarketStock[][] = []
  readonly changes: ChangeEvent[] = []
  readonly persistErrors: PersistErrorEvent[] = []
  #ids = 0
  lastId: string | undefined

  constructor(dir: string) {
    this.dir = dir
  }

  async start(): Promise<void> {
    const failStores = this.database?.failStores
    this.database = new FlakyDatabase(new FileDatabase({ dir: this.dir, fsync: false, workers: 2 }))
    if (failStores) for (const [market, times] of failStores) this.database.failStores.set(market, times)
    this.cache = await MarketCache.start({
      database: this.database,
      idleTimeoutMs: IDLE_MS,
      generateId: () => {
        this.lastId = `p${this.#ids++}`
        return this.lastId
      },
    })
    this.handles = MARKETS.map((name) => [this.cache.market(name), this.cache.market(name)])
    this.cache.on('change', (event) => this.changes.push(event))
    this.cache.on('persistError', (event) => this.persistErrors.push(event))
  }

  #idFor(spec: OpSpec): string {
    const known = (this.models[spec.market] as ModelMarket).known
    if (spec.missing || known.length === 0) return `missing-${spec.idPick % 5}`
    return known[spec.idPick % known.length] as string
  }

  #call(spec: OpSpec, id: string): Promise<unknown> {
    const handle = (this.handles[spec.market] as MarketStock[])[spec.handle] as MarketStock
    switch (spec.kind) {
      case 'add':
        return handle.addProduct(spec.product as Product)
      case 'get':
        return handle.getProduct(id)
      case 'list':
        return handle.listProducts()
      case 'update':
        return handle.updateProduct(id, spec.product as Product)
      case 'delete':
        return handle.deleteProduct(id)
      case 'adjust':
        return handle.adjustQuantity(id, spec.delta)
    }
  }

  /**
   * Issues `specs`, all at once when `overlap`, else one awaited call at a time, and checks each
   * outcome against the model. A call group of one market shares one store; when that store is set
   * to fail, every call from its first change on rejects with PersistenceError (boundary validation
   * still rejects first) and the market keeps its state from before the group.
   */
  async calls(specs: OpSpec[], overlap: boolean, close?: () => Promise<void>): Promise<void> {
    if (!overlap) {
      for (const spec of specs) await this.#group([spec])
      return
    }
    await this.#group(specs, close)
  }

  async #group(specs: OpSpec[], close?: () => Promise<void>): Promise<void> {
    const before = this.models.map(cloneModel)
    this.changes.length = 0
    this.persistErrors.length = 0
    const issued: {
      spec: OpSpec
      id: string
      promise: Promise<unknown>
      expected: Outcome
      change: boolean
      newId?: string
    }[] = []
    for (const spec of specs) {
      const model = this.models[spec.market] as ModelMarket
      const id = this.#idFor(spec)
      this.lastId = undefined
      const promise = this.#call(spec, id)
      promise.catch(() => {})
      const [expected, change] = applyModel(model, spec, id, this.lastId)
      if (spec.kind === 'add' && !boundaryError(spec)) expect(this.lastId).toBeDefined()
      issued.push({ spec, id, promise, expected, change, ...(this.lastId === undefined ? {} : { newId: this.lastId }) })
    }
    const expectedChanges: ChangeEvent[] = []
    const expectedErrors: string[] = []
    for (let market = 0; market < MARKETS.length; market++) {
      const name = MARKETS[market] as string
      const mine = issued.filter(({ spec }) => spec.market === market)
      const first = mine.findIndex(({ change }) => change)
      if (first < 0) continue
      const left = this.database.failStores.get(name) ?? 0
      if (left > 0) {
        for (const call of mine.slice(first)) {
          if (!boundaryError(call.spec)) call.expected = { error: 'PersistenceError' }
        }
        this.models[market] = before[market] as ModelMarket
        // Ids of failed adds stay known, so later calls name them and must find nothing.
        for (const call of mine) if (call.newId !== undefined) this.models[market]?.known.push(call.newId)
        expectedErrors.push(name)
      } else {
        for (const call of mine.filter(({ change }) => change)) {
          const model = this.models[market] as ModelMarket
          model.revision += 1
          expectedChanges.push({
            market: name,
            revision: model.revision,
            // Only these four kinds change a market.
            operation: call.spec.kind as ChangeEvent['operation'],
            productId: call.spec.kind === 'add' ? (call.newId as string) : call.id,
          })
        }
      }
    }
    const closing = close?.()
    const results = await Promise.allSettled(issued.map(({ promise }) => promise))
    await closing
    results.forEach((result, index) => {
      const { spec, expected } = issued[index] as (typeof issued)[number]
      expect(outcomeOf(result), `${spec.kind} on ${MARKETS[spec.market]}`).toEqual(expected)
    })
    // Each acknowledged change is announced once, with its revision, operation and product.
    const byMarketAndRevision = (a: ChangeEvent, b: ChangeEvent) =>
      a.market === b.market ? a.revision - b.revision : a.market < b.market ? -1 : 1
    expect([...this.changes].sort(byMarketAndRevision)).toEqual(expectedChanges.sort(byMarketAndRevision))
    expect(this.persistErrors.map(({ market }) => market).sort()).toEqual(expectedErrors.sort())
    for (const { error } of this.persistErrors) expect(error).toBeInstanceOf(PersistenceError)
  }

  /** Everything observable through a handle equals the model. */
  async checkMemory(): Promise<void> {
    for (let market = 0; market < MARKETS.length; market++) {
      const model = this.models[market] as ModelMarket
      const listed = await (this.handles[market] as MarketStock[])[1]?.listProducts()
      expect(listed).toEqual([...model.products].map(([id, product]) => ({ id, ...product })))
    }
  }

  /** After a close the files hold exactly the acknowledged state, and nothing else is left behind. */
  async checkDisk(): Promise<void> {
    const files = await readdir(this.dir)
    expect(files.filter((name) => !isMarketFile(name))).toEqual([])
    for (let market = 0; market < MARKETS.length; market++) {
      const model = this.models[market] as ModelMarket
      const name = MARKETS[market] as string
      const file = join(this.dir, fileNameFor(name))
      if (model.revision === 0) {
        expect(files).not.toContain(fileNameFor(name))
        continue
      }
      const stored = JSON.parse(await readFile(file, 'utf8')) as { market: string; revision: number; products: object }
      expect(stored.market).toBe(name)
      expect(stored.revision).toBe(model.revision)
      expect(Object.entries(stored.products)).toEqual([...model.products])
    }
  }

  async passivate(): Promise<void> {
    // An actor may still be reloading after a failed store; it goes idle (and arms its timer) once done.
    for (let i = 0; i < 10_000 && this.cache.stats().activeMarkets > 0; i++) {
      vi.advanceTimersByTime(IDLE_MS)
      await settle()
    }
    expect(this.cache.stats().activeMarkets).toBe(0)
  }

  async restart(pending: OpSpec[], failLoad: number | undefined): Promise<void> {
    const old = this.handles[0]?.[0] as MarketStock
    await this.calls(pending, true, () => this.cache.close())
    await this.checkDisk()
    await expect(old.listProducts()).rejects.toBeInstanceOf(ClosedError)
    await this.start()
    expect(await this.cache.markets()).toEqual(
      MARKETS.filter((_, market) => (this.models[market] as ModelMarket).revision > 0).sort(),
    )
    if (failLoad !== undefined) {
      this.database.failGet.add(MARKETS[failLoad] as string)
      const error = await (this.handles[failLoad] as MarketStock[])[0]?.getProduct('any').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PersistenceError)
      expect((error as PersistenceError).cause).toBe(this.database.injected.at(-1))
    }
  }
}

describe('MarketCache against a reference model', () => {
  it('matches the model after every step of random call sequences with restarts, passivation and failing stores', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const dir = await mkdtemp(join(tmpdir(), 'market-system-model-'))
        const run = new Run(dir)
        try {
          await run.start()
          for (const current of steps) {
            if (current.t === 'ops') {
              await run.calls(current.ops, current.overlap)
              await run.checkMemory()
            } else if (current.t === 'restart') {
              await run.restart(current.pending, current.failLoad)
            } else if (current.t === 'passivate') {
              await run.passivate()
            } else {
              const name = MARKETS[current.market] as string
              run.database.failStores.set(name, (run.database.failStores.get(name) ?? 0) + current.times)
            }
          }
          run.database.failStores.clear()
          await run.checkMemory()
          await run.restart([], undefined)
          await run.checkMemory()
        } finally {
          await run.cache.close().catch(() => {})
          await rm(dir, { recursive: true, force: true })
        }
      }),
      // FC_NUM_RUNS lowers this for mutation testing, where every mutant reruns the property.
      { numRuns: Number(process.env.FC_NUM_RUNS) || 60 },
    )
  })
})

describe('idle passivation with work in flight', () => {
  it('keeps an actor whose store is in flight past the idle timeout, so no second actor reloads stale data', async () => {
    const database = new MemoryDatabase()
    const cache = await MarketCache.start({ database, idleTimeoutMs: IDLE_MS })
    const passivated: string[] = []
    cache.on('passivate', ({ market }) => passivated.push(market))
    const market = cache.market('m')
    await market.addProduct({ name: 'first', quantity: 1, expirationDate: '2030-01-01', price: 1 })

    database.manual = true
    const second = market.addProduct({ name: 'second', quantity: 1, expirationDate: '2030-01-01', price: 1 })
    await until(() => database.pending.length === 1, 'the second store')
    // The timer armed when the actor last went idle fires now, while the store is still in flight.
    vi.advanceTimersByTime(IDLE_MS)
    expect(passivated).toEqual([])
    expect(cache.stats().activeMarkets).toBe(1)

    const third = market.addProduct({ name: 'third', quantity: 1, expirationDate: '2030-01-01', price: 1 })
    while (database.pending.length > 0 || cache.stats().pendingWrites > 0) {
      if (database.pending.length > 0) database.resolveNext()
      await settle()
    }
    await Promise.all([second, third])
    expect(Object.values(database.stored('m')?.products ?? {}).map((p) => (p as Product).name)).toEqual([
      'first',
      'second',
      'third',
    ])
    database.manual = false
    await cache.close()
  })
})

describe('passivation is opt-in', () => {
  it('never passivates an actor when idleTimeoutMs is not set', async () => {
    const cache = await MarketCache.start({ database: new MemoryDatabase() })
    const passivated: string[] = []
    cache.on('passivate', ({ market }) => passivated.push(market))
    await cache.market('m').addProduct({ name: 'kept', quantity: 1, expirationDate: '2030-01-01', price: 1 })
    vi.advanceTimersByTime(24 * 60 * 60 * 1000)
    expect(passivated).toEqual([])
    expect(cache.stats().activeMarkets).toBe(1)
    await cache.close()
  })
})
