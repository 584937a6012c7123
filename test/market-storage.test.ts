import { describe, expect, it } from 'vitest'
import { CorruptDataError, type Database, type MarketLock, type SharedDatabase } from '../src/index.js'
import { MarketStorage } from '../src/market-storage.js'
import { MemoryDatabase } from './helpers/memory-database.js'

const snapshotOf = (market: string, revision: number) => ({ format: 1, market, revision, products: {} })

/** A shared database double recording what its locks did. */
function sharedDatabase(options: { lockGet?: () => Promise<unknown>; withLock?: boolean } = {}) {
  const events: string[] = []
  const database = {
    shared: true as const,
    get: async () => {
      events.push('get')
      return snapshotOf('m', 3)
    },
    store: async () => {
      events.push('store')
    },
    storeIf: async (_market: string, snapshot: unknown, expected: number) => {
      events.push(`storeIf ${(snapshot as { revision: number }).revision} if ${expected}`)
      return expected === 3
    },
    revisions: async () => new Map<string, number>(),
    markets: async () => ['m'],
    close: async () => {},
    lock: async (market: string): Promise<MarketLock> => {
      events.push(`lock ${market}`)
      return {
        get: options.lockGet ?? (async () => snapshotOf('m', 3)),
        storeIf: async (snapshot, expected) => {
          events.push(`lock storeIf ${(snapshot as { revision: number }).revision} if ${expected}`)
          return true
        },
        release: async () => {
          events.push('release')
        },
      }
    },
  } satisfies SharedDatabase
  if (options.withLock === false) (database as { lock?: unknown }).lock = undefined
  return { database: database as SharedDatabase, events }
}

const checkRevision = async () => 0

describe('MarketStorage', () => {
  it('loads an empty market when nothing is stored and stores through an ordinary database', async () => {
    const database = new MemoryDatabase()
    const storage = new MarketStorage('m', database, undefined)
    expect(storage.shared).toBe(false)
    expect(storage.locked).toBe(false)
    const state = await storage.load(false)
    expect(state.revision).toBe(0)
    expect(state.products.size).toBe(0)
    state.revision = 1
    await expect(storage.store(state, 0)).resolves.toBe(true)
    expect(database.stored('m')).toMatchObject({ market: 'm', revision: 1 })
  })

  it('is shared only with a revision check and while it does not hold the lock', async () => {
    const { database } = sharedDatabase()
    const storage = new MarketStorage('m', database, checkRevision)
    expect(storage.shared).toBe(true)
    expect(storage.lockable).toBe(true)
    await storage.load(true)
    expect(storage.locked).toBe(true)
    expect(storage.shared).toBe(false)
    storage.release()
    expect(storage.shared).toBe(true)
    expect(new MarketStorage('m', database, undefined).shared).toBe(false)
  })

  it('is lockable only on a shared database that has locks', () => {
    expect(new MarketStorage('m', sharedDatabase({ withLock: false }).database, checkRevision).lockable).toBe(false)
    expect(new MarketStorage('m', new MemoryDatabase(), undefined).lockable).toBe(false)
  })

  it('takes the lock only for an exclusive load, and ends it with the store under it', async () => {
    const { database, events } = sharedDatabase()
    const storage = new MarketStorage('m', database, checkRevision)
    const plain = await storage.load(false)
    expect(storage.locked).toBe(false)
    expect(events).toEqual(['get'])
    const locked = await storage.load(true)
    expect(locked.revision).toBe(3)
    expect(events).toEqual(['get', 'lock m'])
    locked.revision = 4
    await expect(storage.store(locked, 3)).resolves.toBe(true)
    expect(storage.locked).toBe(false)
    plain.revision = 5
    await expect(storage.store(plain, 4)).resolves.toBe(false)
    expect(events).toEqual(['get', 'lock m', 'lock storeIf 4 if 3', 'storeIf 5 if 4'])
  })

  it('reads without a lock when asked for an exclusive load on a database that has no locks', async () => {
    const database = new MemoryDatabase()
    database.data.set('m', JSON.stringify(snapshotOf('m', 2)))
    const storage = new MarketStorage('m', database, undefined)
    expect((await storage.load(true)).revision).toBe(2)
    expect(storage.locked).toBe(false)
  })

  it('ends the lock when reading under it fails, and rethrows the failure', async () => {
    const failure = new Error('connection lost')
    const { database, events } = sharedDatabase({ lockGet: () => Promise.reject(failure) })
    const storage = new MarketStorage('m', database, checkRevision)
    await expect(storage.load(true)).rejects.toBe(failure)
    expect(storage.locked).toBe(false)
    expect(events).toEqual(['lock m', 'release'])
  })

  it('rethrows a failed read of an ordinary database as it is', async () => {
    const database = new MemoryDatabase()
    const failure = new Error('disk gone')
    database.failNextGet = failure
    await expect(new MarketStorage('m', database, undefined).load(false)).rejects.toBe(failure)
  })

  it('ends the lock when the data read under it is corrupt', async () => {
    const { database, events } = sharedDatabase({ lockGet: async () => snapshotOf('other', 1) })
    const storage = new MarketStorage('m', database, checkRevision)
    await expect(storage.load(true)).rejects.toBeInstanceOf(CorruptDataError)
    expect(storage.locked).toBe(false)
    expect(events).toEqual(['lock m', 'release'])
  })

  it('names the market, the location and the defect in CorruptDataError', async () => {
    const database = new MemoryDatabase()
    database.data.set('m', JSON.stringify(snapshotOf('other', 1)))
    ;(database as Database).locate = (market) => `/data/${market}.json`
    const error = await new MarketStorage('m', database, undefined).load(false).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(CorruptDataError)
    expect(error).toMatchObject({
      message: 'Stored data of market `m` (/data/m.json) is corrupt: holds market `other`, not `m`',
      market: 'm',
      location: '/data/m.json',
    })
  })

  it('leaves the location out of CorruptDataError when the database cannot name one', async () => {
    const database = new MemoryDatabase()
    database.data.set('m', JSON.stringify({ format: 1, market: 'm', revision: -1, products: {} }))
    const error = await new MarketStorage('m', database, undefined).load(false).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(CorruptDataError)
    expect(error).toMatchObject({
      message: 'Stored data of market `m` is corrupt: revision is not a safe integer >= 0',
      location: undefined,
    })
  })

  it('turns a database that throws instead of returning a promise into a rejected store', async () => {
    const failure = new Error('store threw')
    const database = new MemoryDatabase()
    database.store = () => {
      throw failure
    }
    const storage = new MarketStorage('m', database, undefined)
    await expect(storage.store({ revision: 1, products: new Map() }, 0)).rejects.toBe(failure)
  })

  it('tolerates a lock whose release fails or throws', async () => {
    for (const release of [
      () => Promise.reject(new Error('gone')),
      () => {
        throw new Error('gone')
      },
    ]) {
      const { database } = sharedDatabase()
      const lock = database.lock as (market: string) => Promise<MarketLock>
      database.lock = async (market) => ({ ...(await lock(market)), release })
      const storage = new MarketStorage('m', database, checkRevision)
      await storage.load(true)
      expect(() => storage.release()).not.toThrow()
      expect(storage.locked).toBe(false)
      // Releasing again does nothing.
      expect(() => storage.release()).not.toThrow()
    }
  })

  it('asks the revision check about its own market', async () => {
    const asked: string[] = []
    const storage = new MarketStorage('m', sharedDatabase().database, async (market) => {
      asked.push(market)
      return 9
    })
    await expect(storage.checkRevision()).resolves.toBe(9)
    expect(asked).toEqual(['m'])
  })
})
