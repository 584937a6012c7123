import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  type ChangeEvent,
  ClosedError,
  InsufficientStockError,
  MailboxFullError,
  MarketCache,
  ValidationError,
} from '../src/index.js'
import { MemoryDatabase, until } from './helpers/memory-database.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()

afterEach(() => {
  vi.useRealTimers()
})

describe('MarketCache.start', () => {
  it('rejects unknown or malformed options with ValidationError', async () => {
    await expect(MarketCache.start({ workrs: 3 } as never)).rejects.toBeInstanceOf(ValidationError)
    await expect(MarketCache.start({ workers: 0 })).rejects.toBeInstanceOf(ValidationError)
    await expect(MarketCache.start({ maxMailbox: 1.5 })).rejects.toBeInstanceOf(ValidationError)
    await expect(MarketCache.start({ database: {} as never })).rejects.toBeInstanceOf(ValidationError)
  })

  it('awaits the database open() so setup errors surface at start', async () => {
    const database = new MemoryDatabase()
    const failing = Object.assign(database, { open: () => Promise.reject(new Error('cannot open')) })
    await expect(MarketCache.start({ database: failing })).rejects.toMatchObject({
      code: 'PERSISTENCE',
      cause: { message: 'cannot open' },
    })
  })

  it('reports a data directory that cannot be created as PersistenceError', async () => {
    const file = join(await tempDir(), 'a-file')
    await writeFile(file, 'not a directory')
    await expect(MarketCache.start({ dataDir: join(file, 'persist') })).rejects.toMatchObject({
      code: 'PERSISTENCE',
      cause: { code: 'ENOTDIR' },
    })
  })
})

describe('MarketCache.market', () => {
  it('throws ValidationError synchronously for a bad name', async () => {
    const cache = await MarketCache.start({ database: new MemoryDatabase() })
    expect(() => cache.market('')).toThrow(ValidationError)
    expect(() => cache.market('line\nbreak')).toThrow(ValidationError)
    expect(() => cache.market(7 as never)).toThrow(ValidationError)
    await cache.close()
  })

  it('spawns one actor per name however many handles ask concurrently', async () => {
    const database = new MemoryDatabase()
    const cache = await MarketCache.start({ database })
    const activated: string[] = []
    cache.on('activate', ({ market }) => activated.push(market))
    const handles = Array.from({ length: 100 }, () => cache.market('shared'))
    const ids = await Promise.all(handles.map((handle) => handle.addProduct(sample)))
    expect(activated).toEqual(['shared'])
    expect(cache.stats().activeMarkets).toBe(1)
    expect(await cache.market('shared').listProducts()).toHaveLength(100)
    expect(new Set(ids).size).toBe(100)
    await cache.close()
  })
})

describe('concurrency', () => {
  it('sells exactly the stock: 1000 overlapping sales of one unit on 500 through two handles', async () => {
    const dir = await tempDir()
    let cache = await MarketCache.start({ dataDir: dir })
    const id = await cache.market('shop').addProduct({ ...sample, quantity: 500 })
    const [left, right] = [cache.market('shop'), cache.market('shop')]
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) => (i % 2 ? left : right).adjustQuantity(id, -1)),
    )
    const sold = results.filter((result) => result.status === 'fulfilled')
    const refused = results.filter((result) => result.status === 'rejected')
    expect(sold).toHaveLength(500)
    expect(refused).toHaveLength(500)
    for (const result of refused) expect(result.reason).toBeInstanceOf(InsufficientStockError)
    expect(sold.map((result) => result.value).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i))
    await cache.close()
    cache = await MarketCache.start({ dataDir: dir })
    expect((await cache.market('shop').getProduct(id))?.quantity).toBe(0)
    await cache.close()
  })

  it('keeps markets independent: thousands of calls over many markets land exactly', async () => {
    const dir = await tempDir()
    const cache = await MarketCache.start({ dataDir: dir, workers: 4 })
    const markets = Array.from({ length: 20 }, (_, i) => cache.market(`market ${i}`))
    const ids = await Promise.all(markets.map((market) => market.addProduct({ ...sample, quantity: 0 })))
    await Promise.all(
      Array.from({ length: 4000 }, (_, i) => (markets[i % 20] ?? markets[0])?.adjustQuantity(ids[i % 20] ?? '', 1)),
    )
    for (const [i, market] of markets.entries()) expect((await market.getProduct(ids[i] ?? ''))?.quantity).toBe(200)
    await cache.close()
  })
})

describe('MarketCache.markets and stats', () => {
  it('lists markets with stored data or a live actor, in default sort order', async () => {
    const database = new MemoryDatabase()
    database.data.set('zeta', JSON.stringify({ format: 1, market: 'zeta', revision: 0, products: {} }))
    const cache = await MarketCache.start({ database })
    await cache.market('alpha').listProducts()
    await cache.market('Beta').addProduct(sample)
    expect(await cache.markets()).toEqual(['Beta', 'alpha', 'zeta'])
    await cache.close()
    await expect(cache.markets()).rejects.toBeInstanceOf(ClosedError)
  })

  it('counts queued messages and unwritten changes', async () => {
    const database = new MemoryDatabase({ manual: true })
    const cache = await MarketCache.start({ database })
    const stock = cache.market('m')
    const adds = [stock.addProduct(sample), stock.addProduct(sample), stock.addProduct(sample)]
    expect(cache.stats()).toEqual({ activeMarkets: 1, queuedMessages: 3, pendingWrites: 0 })
    await until(() => database.pending.length === 1)
    expect(cache.stats()).toEqual({ activeMarkets: 1, queuedMessages: 0, pendingWrites: 3 })
    database.resolveNext()
    await Promise.all(adds)
    expect(cache.stats()).toEqual({ activeMarkets: 1, queuedMessages: 0, pendingWrites: 0 })
    await cache.close()
  })
})

describe('mailbox bound', () => {
  it('rejects with MailboxFullError when maxMailbox messages wait, then recovers', async () => {
    const database = new MemoryDatabase({ manual: true })
    const cache = await MarketCache.start({ database, maxMailbox: 5 })
    const stock = cache.market('m')
    // The actor spawns on the first call, so delaying get() keeps every call waiting behind its load.
    let releaseGet!: () => void
    const originalGet = database.get.bind(database)
    database.get = (market) => new Promise((resolve) => (releaseGet = () => resolve(originalGet(market))))
    const queued = Array.from({ length: 5 }, () => stock.listProducts())
    const overflow = await stock.listProducts().catch((e: unknown) => e)
    expect(overflow).toBeInstanceOf(MailboxFullError)
    expect(overflow).toMatchObject({ code: 'MAILBOX_FULL', market: 'm', capacity: 5 })
    releaseGet()
    expect(await Promise.all(queued)).toEqual([[], [], [], [], []])
    expect(await stock.listProducts()).toEqual([])
    await cache.close()
  })

  it('counts replies held while a store is in flight, so a slow disk cannot grow memory without bound', async () => {
    const database = new MemoryDatabase({ manual: true })
    const cache = await MarketCache.start({ database, maxMailbox: 10 })
    const stock = cache.market('m')
    const adding = stock.addProduct({ ...sample, quantity: 1000 })
    await until(() => database.pending.length === 1, 'the first store')
    database.resolveNext()
    const id = await adding
    // The first sale starts a store that stays in flight; the others are applied and held behind it.
    const sales = Array.from({ length: 1000 }, () => stock.adjustQuantity(id, -1))
    const outcomes = await Promise.allSettled(sales.slice(10))
    expect(
      outcomes.every((outcome) => outcome.status === 'rejected' && outcome.reason instanceof MailboxFullError),
    ).toBe(true)
    expect(cache.stats().pendingWrites).toBe(10)
    // The ten accepted sales were applied in one synchronous burst, so one store carries them all.
    expect(database.pending).toHaveLength(1)
    database.resolveNext()
    expect(await Promise.all(sales.slice(0, 10))).toEqual([999, 998, 997, 996, 995, 994, 993, 992, 991, 990])
    expect(database.stored('m')?.products[id]).toMatchObject({ quantity: 990 })
    await cache.close()
  })
})

describe('idle passivation', () => {
  it('refuses an idleTimeoutMs that Node.js timers cannot hold, and honours the longest one they can', async () => {
    await expect(MarketCache.start({ database: new MemoryDatabase(), idleTimeoutMs: 2 ** 31 })).rejects.toBeInstanceOf(
      ValidationError,
    )
    vi.useFakeTimers()
    const warnings: unknown[] = []
    const onWarning = (warning: unknown) => warnings.push(warning)
    process.on('warning', onWarning)
    const cache = await MarketCache.start({ database: new MemoryDatabase(), idleTimeoutMs: 2 ** 31 - 1 })
    await cache.market('m').listProducts()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(cache.stats().activeMarkets).toBe(1)
    await vi.advanceTimersByTimeAsync(2 ** 31 - 1)
    expect(cache.stats().activeMarkets).toBe(0)
    process.off('warning', onWarning)
    expect(warnings).toEqual([])
    await cache.close()
  })

  it('releases an idle actor after idleTimeoutMs and the old handle re-activates it', async () => {
    vi.useFakeTimers()
    const database = new MemoryDatabase()
    const cache = await MarketCache.start({ database, idleTimeoutMs: 1000 })
    const events: string[] = []
    cache.on('activate', ({ market }) => events.push(`activate ${market}`))
    cache.on('passivate', ({ market }) => events.push(`passivate ${market}`))
    const stock = cache.market('m')
    const id = await stock.addProduct(sample)
    await vi.advanceTimersByTimeAsync(999)
    expect(cache.stats().activeMarkets).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(cache.stats().activeMarkets).toBe(0)
    expect(await stock.getProduct(id)).toEqual(sample)
    expect(cache.stats().activeMarkets).toBe(1)
    expect(events).toEqual(['activate m', 'passivate m', 'activate m'])
    await cache.close()
  })

  it('never passivates an actor with a write in flight', async () => {
    vi.useFakeTimers()
    const database = new MemoryDatabase({ manual: true })
    const cache = await MarketCache.start({ database, idleTimeoutMs: 10 })
    const adding = cache.market('m').addProduct(sample)
    await vi.advanceTimersByTimeAsync(100)
    expect(database.pending).toHaveLength(1)
    expect(cache.stats().activeMarkets).toBe(1)
    database.resolveNext()
    await adding
    await vi.advanceTimersByTimeAsync(10)
    expect(cache.stats().activeMarkets).toBe(0)
    await cache.close()
  })
})

describe('MarketCache.close', () => {
  it('runs the 200 calls still queued, stores them, then rejects later calls with ClosedError', async () => {
    const dir = await tempDir()
    const cache = await MarketCache.start({ dataDir: dir })
    const calls = Array.from({ length: 200 }, (_, i) => cache.market(`m${i % 4}`).addProduct(sample))
    const closing = cache.close()
    await expect(cache.market('m0').listProducts()).rejects.toBeInstanceOf(ClosedError)
    const ids = await Promise.all(calls)
    await closing
    await cache.close()
    expect((await readdir(dir)).filter((file) => !file.endsWith('.json'))).toEqual([])
    const reopened = await MarketCache.start({ dataDir: dir })
    const stored = (
      await Promise.all(['m0', 'm1', 'm2', 'm3'].map((name) => reopened.market(name).listProducts()))
    ).flat()
    expect(stored.map((item) => item.id).sort()).toEqual([...ids].sort())
    await reopened.close()
  })
})

describe('events', () => {
  it('reports each durable change, each store and each failed store', async () => {
    const database = new MemoryDatabase({ manual: true })
    const cache = await MarketCache.start({ database })
    const changes: ChangeEvent[] = []
    const persisted: number[] = []
    const failures: unknown[] = []
    cache.on('change', (event) => changes.push(event))
    cache.on('persisted', ({ revision, durationMs }) => {
      expect(durationMs).toBeGreaterThanOrEqual(0)
      persisted.push(revision)
    })
    cache.on('persistError', ({ error }) => failures.push(error))
    const stock = cache.market('m')
    const adding = stock.addProduct(sample)
    await until(() => database.pending.length === 1)
    expect(changes).toEqual([])
    database.resolveNext()
    const id = await adding
    const selling = stock.adjustQuantity(id, -1)
    await until(() => database.pending.length === 1)
    database.rejectNext(new Error('EIO'))
    await expect(selling).rejects.toMatchObject({ code: 'PERSISTENCE' })
    expect(changes).toEqual([{ market: 'm', revision: 1, operation: 'add', productId: id }])
    expect(persisted).toEqual([1])
    expect(failures).toHaveLength(1)
    await cache.close()
  })

  it('keeps the actor working when a listener throws, and stops calling a removed listener', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error) => warnings.push(warning.message)
    process.on('warning', onWarning)
    const cache = await MarketCache.start({ database: new MemoryDatabase() })
    const seen: string[] = []
    const throwing = () => {
      throw new Error('listener bug')
    }
    const recording = ({ operation }: ChangeEvent) => seen.push(operation)
    cache.on('change', throwing).on('change', recording)
    const stock = cache.market('m')
    const id = await stock.addProduct(sample)
    cache.off('change', recording)
    await stock.deleteProduct(id)
    expect(seen).toEqual(['add'])
    await until(() => warnings.length === 2)
    expect(warnings[0]).toContain('listener bug')
    process.off('warning', onWarning)
    await cache.close()
  })
})
