import { afterEach, describe, expect, it, vi } from 'vitest'
import { ConflictError, MailboxFullError, MarketCache, PersistenceError, ValidationError } from '../src/index.js'
import { MemoryDatabase, settle, track, until } from './helpers/memory-database.js'
import { SharedMemoryDatabase, SharedStore } from './helpers/shared-memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
afterEach(async () => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

async function start(options: Parameters<typeof MarketCache.start>[0]) {
  const cache = await MarketCache.start(options)
  caches.push(cache)
  return cache
}

describe('MarketCache.start option errors', () => {
  it('names every invalid option and why in one ValidationError message', async () => {
    const error = await MarketCache.start({ workers: 0, maxMailbox: 1.5 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    // Each issue as `path: reason`, in the order zod found them.
    expect((error as ValidationError).message).toMatch(
      /^Invalid MarketCache options: workers: [^;]+; maxMailbox: [^;]+$/,
    )
    expect((error as ValidationError).issues).toHaveLength(2)
  })

  it('says the database could not be opened, with the storage error as cause', async () => {
    const cause = new Error('cannot open')
    const database = Object.assign(new MemoryDatabase(), { open: () => Promise.reject(cause) })
    const error = await MarketCache.start({ database }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PersistenceError)
    expect((error as PersistenceError).message).toBe('Could not open the database: cannot open')
    expect((error as PersistenceError).cause).toBe(cause)
  })

  it('says so too when the database rejects with a value that has no string form', async () => {
    const cause = Object.create(null) // String(cause) throws
    const database = Object.assign(new MemoryDatabase(), { open: () => Promise.reject(cause) })
    const error = await MarketCache.start({ database }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PersistenceError)
    expect((error as PersistenceError).message).toBe('Could not open the database: [object Object]')
    expect((error as PersistenceError).cause).toBe(cause)
  })
})

describe('defaults', () => {
  it('holds up to 10 000 calls per market by default, then rejects with MailboxFullError', async () => {
    const database = new MemoryDatabase()
    const cache = await start({ database })
    const stock = cache.market('m')
    // The first call spawns the actor; holding its load keeps every call queued.
    let releaseGet!: () => void
    const originalGet = database.get.bind(database)
    database.get = (market) => new Promise((resolve) => (releaseGet = () => resolve(originalGet(market))))
    const queued = Array.from({ length: 10_000 }, () => stock.listProducts())
    const overflow = track(stock.listProducts())
    await settle()
    releaseGet()
    expect(overflow.error).toBeInstanceOf(MailboxFullError)
    expect(overflow.error).toMatchObject({ capacity: 10_000 })
    expect(await Promise.all(queued)).toHaveLength(10_000)
  })

  it('rejects with ConflictError after 10 conflicts in a row on a shared database by default', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0) // a replay's backoff is then as short as it gets
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    // No lock: every replay is optimistic, so only maxConflicts bounds them.
    ;(database as { lock?: unknown }).lock = undefined
    const cache = await start({ database })
    const stock = cache.market('m')
    const id = await stock.addProduct({ ...sample, quantity: 10 })
    // Another instance stores the market before every revision check of this one, for 30 rounds.
    let rounds = 0
    const revisions = database.revisions.bind(database)
    database.revisions = (markets) => {
      rounds += 1
      if (rounds <= 30)
        store.foreignWrite('m', (products) => {
          ;(products[id] as { quantity: number }).quantity = 100 + rounds
        })
      return revisions(markets)
    }
    const read = track(stock.getProduct(id))
    await until(() => read.settled, 'the read')
    expect(read.error).toBeInstanceOf(ConflictError)
    expect(read.error).toMatchObject({ market: 'm', attempts: 10 })
  })

  it('keeps a market in memory however long it idles when idleTimeoutMs is not set', async () => {
    vi.useFakeTimers()
    const cache = await start({ database: new MemoryDatabase() })
    const passivated: string[] = []
    cache.on('passivate', ({ market }) => passivated.push(market))
    await cache.market('m').addProduct(sample)
    await vi.advanceTimersByTimeAsync(24 * 60 * 60 * 1000)
    expect(cache.stats().activeMarkets).toBe(1)
    expect(passivated).toEqual([])
  })
})

describe('idle passivation', () => {
  it('keeps a market that got busy again before its idle timer ran out', async () => {
    vi.useFakeTimers()
    const database = new MemoryDatabase()
    const cache = await start({ database, idleTimeoutMs: 1000 })
    const passivated: string[] = []
    cache.on('passivate', ({ market }) => passivated.push(market))
    const stock = cache.market('m')
    const id = await stock.addProduct(sample)
    await vi.advanceTimersByTimeAsync(600)
    database.manual = true
    const selling = stock.adjustQuantity(id, -1)
    await vi.advanceTimersByTimeAsync(600)
    expect(database.pending).toHaveLength(1)
    expect(passivated).toEqual([])
    expect(cache.stats().activeMarkets).toBe(1)
    database.resolveNext()
    expect(await selling).toBe(4)
    await vi.advanceTimersByTimeAsync(1000)
    expect(passivated).toEqual(['m'])
  })
})
