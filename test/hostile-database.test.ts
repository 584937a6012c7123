// Findings of two outside reviews after e0f32b1 (a Database rejecting with a value without a string form left the
// caller pending). Each test failed before the fix that followed; the comment above it says what is expected and
// what happened before.
//
// The common thread: a value from a user's `Database` or listener (an Error whose `message` or `stack` is a
// Symbol, a revoked proxy, a plain value where a promise belongs, a promise whose own `then` returns nothing, a
// revisions answer that is not a Map of safe integers, a snapshot that throws when read) reached code that threw
// outside any catch, so a caller's promise never settled, an error escaped the process, or a read was stale.

import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CorruptDataError, MarketCache, type MarketLock, type MarketStock, PersistenceError } from '../src/index.js'
import { eventually, MemoryDatabase, settle, track } from './helpers/memory-database.js'
import { SharedMemoryDatabase, SharedStore } from './helpers/shared-memory-database.js'
import { sample } from './helpers/temp-dir.js'

/** An Error whose `message` is a Symbol: `${...}` of a Symbol throws. */
function symbolMessageError(): Error {
  const error = new Error('placeholder')
  Object.defineProperty(error, 'message', { value: Symbol('no string form'), configurable: true })
  return error
}

/** An Error whose `stack` is a Symbol: `${...}` of it throws. */
function symbolStackError(): Error {
  const error = new Error('listener bug')
  Object.defineProperty(error, 'stack', { value: Symbol('no string form'), configurable: true })
  return error
}

/** A proxy every trap of which throws (a revoked one): `instanceof` on it throws too. */
function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}

const caches: MarketCache[] = []
const processErrors: unknown[] = []
type ProcessErrorEvent = 'uncaughtException' | 'unhandledRejection'
type ProcessErrorListener = (error: unknown) => void
let savedListeners: { event: ProcessErrorEvent; listeners: ProcessErrorListener[] }[] = []
const recordProcessError = (error: unknown) => processErrors.push(error)

/**
 * Takes over `uncaughtException` and `unhandledRejection` for the test (vitest's own handlers would fail the whole
 * run instead of this test), so that a test can assert none happened.
 */
function captureProcessErrors(): unknown[] {
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    savedListeners.push({
      event,
      listeners: process.listeners(event as 'unhandledRejection') as ProcessErrorListener[],
    })
    process.removeAllListeners(event)
    process.on(event as 'unhandledRejection', recordProcessError)
  }
  return processErrors
}

afterEach(async () => {
  // Not awaited beyond a bounded wait: a broken actor may never become idle, and the test has failed then.
  const closing = caches.splice(0).map((cache) => track(cache.close()))
  await eventually(() => closing.every((state) => state.settled), 200)
  await settle()
  for (const { event, listeners } of savedListeners) {
    process.removeAllListeners(event)
    for (const listener of listeners) process.on(event as 'unhandledRejection', listener)
  }
  savedListeners = []
  processErrors.splice(0)
  vi.restoreAllMocks()
})

/** Adds a product, then closes the cache: the change and the close both settle, and nothing escapes the process. */
async function expectChangeSettlesAndCloses(cache: MarketCache, stock: MarketStock, errors: unknown[]) {
  const added = track(stock.addProduct(sample))
  await eventually(() => added.settled, 200)
  const closed = track(cache.close())
  await eventually(() => closed.settled, 200)
  expect({ changeSettled: added.settled, closed: closed.settled, processErrors: errors.length }).toEqual({
    changeSettled: true,
    closed: true,
    processErrors: 0,
  })
}

async function start(database: MemoryDatabase | SharedMemoryDatabase, options: { idleTimeoutMs?: number } = {}) {
  const cache = await MarketCache.start({ database, ...options })
  caches.push(cache)
  return { cache, stock: cache.market('m') }
}

describe('a store that rejects with an Error whose message is not a string', () => {
  /** A market holding one stored product, whose next store rejects with `cause`; the change that hits it. */
  async function failOneStore(cause: unknown) {
    const errors = captureProcessErrors()
    const database = new MemoryDatabase()
    const { cache, stock } = await start(database)
    const kept = await stock.addProduct({ ...sample, name: 'kept' })
    const store = database.store.bind(database)
    database.store = () => {
      database.store = store
      return Promise.reject(cause)
    }
    const failed = track(stock.addProduct({ ...sample, name: 'failed' }))
    await eventually(() => failed.settled)
    return { errors, database, cache, stock, kept, failed }
  }

  // Expected: the change rejects with PersistenceError (cause: the rejection value), the market reloads, a read shows
  // only what is stored, and close() resolves. Before the fix: `${describeValue(cause)}` throws inside the store's rejection
  // handler (describeValue returns the Symbol `message` as is), so the caller's promise never settles, the reply
  // stays at the gate with every later read queued behind it, close() never resolves, and a TypeError escapes as an
  // unhandled rejection. The defect of e0f32b1, reached through `message` instead of `String(cause)`.
  it('rejects the change with PersistenceError, reloads, and close() resolves', async () => {
    const cause = symbolMessageError()
    const { errors, cache, stock, failed } = await failOneStore(cause)
    const read = track(stock.listProducts())
    await eventually(() => read.settled)
    const closed = track(cache.close())
    await eventually(() => closed.settled)
    // Every fact at once, so that the failure shows all of them.
    expect({
      failedChangeSettled: failed.settled,
      failedChangeIsPersistenceError: failed.error instanceof PersistenceError,
      causeKept: (failed.error as PersistenceError | undefined)?.cause === cause,
      readShowsOnlyStored: (read.value as { name: string }[] | undefined)?.map(({ name }) => name),
      closed: closed.settled,
      processErrors: errors.length,
    }).toEqual({
      failedChangeSettled: true,
      failedChangeIsPersistenceError: true,
      causeKept: true,
      readShowsOnlyStored: ['kept'],
      closed: true,
      processErrors: 0,
    })
  })

  // Expected (README, Failure is honest): a change whose store failed is rejected, and the market reloads before any
  // further call runs, so the next change is applied to what is stored. Before the fix: #storeFailed throws after resetting the
  // phase but before dropping memory, so the failed change stays applied in memory; the next change is applied on
  // top of it, its store carries it, and the failed change's caller is then told it succeeded.
  it('never acknowledges the failed change later, and runs the next change on the reloaded state', async () => {
    const { errors, database, stock, failed } = await failOneStore(symbolMessageError())
    const next = track(stock.addProduct({ ...sample, name: 'next' }))
    await eventually(() => next.settled && failed.settled)
    const stored = Object.values(database.stored('m')?.products ?? {}) as { name: string }[]
    expect({
      failedChangeIsPersistenceError: failed.error instanceof PersistenceError,
      storedNames: stored.map(({ name }) => name),
      processErrors: errors.length,
    }).toEqual({ failedChangeIsPersistenceError: true, storedNames: ['kept', 'next'], processErrors: 0 })
  })
})

describe('a shared database whose revision check misbehaves', () => {
  // Expected: a failed check rejects the reads waiting on it with PersistenceError. Before the fix:
  // - a rejection with an Error whose message is a Symbol: building the PersistenceError threw inside the check's
  //   rejection handler after the reply was taken off the gate, so the read never settled;
  // - an answer that is not a Map: `revisions.get` threw inside RevisionCheck's fulfilment handler, so no entry of
  //   the round was ever settled (every read of every market in that round hung).
  // Both times a TypeError escaped as an unhandled rejection.
  it.each([
    ['rejected with an Error whose message is not a string', () => Promise.reject(symbolMessageError())],
    ['resolved with something that is not a Map', async () => ({ m: 1 }) as unknown as Map<string, number>],
  ])('rejects a read whose check %s', async (_, revisions) => {
    const errors = captureProcessErrors()
    const database = new SharedMemoryDatabase(new SharedStore())
    const { stock } = await start(database)
    await stock.addProduct(sample)
    database.revisions = revisions
    const read = track(stock.listProducts())
    await eventually(() => read.settled)
    expect(read.settled).toBe(true)
    expect(read.error).toBeInstanceOf(PersistenceError)
    expect(errors).toEqual([])
  })

  it('names an answer that is not a Map in the error', async () => {
    const database = new SharedMemoryDatabase(new SharedStore())
    const { stock } = await start(database)
    await stock.addProduct(sample)
    database.revisions = async () => ({ m: 1 }) as unknown as Map<string, number>
    await expect(stock.listProducts()).rejects.toMatchObject({
      message: 'Could not check market `m`: Database.revisions() resolved with [object Object], not a Map',
    })
  })

  // Expected: a `revisions()` that returns its Map synchronously (or throws) is answered or rejected like any other
  // check. Before the fix: `query.then(...)` on a Map throws inside RevisionCheck's microtask with `#running` already true:
  // an uncaught exception, and no revision check ever starts again, so every later read of EVERY market of the cache
  // hangs, also after `revisions` is fixed.
  it('survives a revisions() that returns its answer without a promise', async () => {
    const errors = captureProcessErrors()
    const database = new SharedMemoryDatabase(new SharedStore())
    const { cache, stock } = await start(database)
    await stock.addProduct(sample)
    const revisions = database.revisions.bind(database)
    database.revisions = ((markets: readonly string[]) => {
      const found = new Map<string, number>()
      for (const market of markets) {
        const row = database.backing.rows.get(market)
        if (row) found.set(market, row.revision)
      }
      return found
    }) as unknown as typeof database.revisions
    const read = track(stock.listProducts())
    await eventually(() => read.settled)
    // The database is well-behaved again: a read of another market must be answered.
    database.revisions = revisions
    const other = track(cache.market('other').listProducts())
    await eventually(() => other.settled)
    expect({
      readSettled: read.settled,
      laterReadOfAnotherMarketSettled: other.settled,
      processErrors: errors.length,
    }).toEqual({ readSettled: true, laterReadOfAnotherMarketSettled: true, processErrors: 0 })
  })
})

describe('a shared database whose conditional store returns without a promise', () => {
  // Expected: a `storeIf` (or a lock's `storeIf`) that returns a plain boolean, or throws, settles the change like a
  // rejected or resolved store (the non-shared `store` path already turns such a return into a PersistenceError).
  // Before the fix: MarketStorage.store returns the boolean as is, `#store` calls `.then` on it in a microtask: an uncaught
  // exception, the actor stays in `storing` for good, the change never settles, and close() never resolves.
  it('settles the change and lets close() finish', async () => {
    const errors = captureProcessErrors()
    const database = new SharedMemoryDatabase(new SharedStore())
    const { cache, stock } = await start(database)
    database.storeIf = ((market: string, snapshot: unknown) => {
      const revision = (snapshot as { revision: number }).revision
      database.backing.rows.set(market, { revision, text: JSON.stringify(snapshot) })
      return true
    }) as unknown as typeof database.storeIf
    await expectChangeSettlesAndCloses(cache, stock, errors)
  })

  // Same through the market lock taken after two conflicts in a row: its `storeIf` returns a boolean.
  it('settles a replayed change whose locked storeIf returns without a promise', async () => {
    const errors = captureProcessErrors()
    const backing = new SharedStore()
    const database = new SharedMemoryDatabase(backing)
    const { stock } = await start(database)
    const id = await stock.addProduct(sample)
    const lock = database.lock.bind(database)
    database.lock = async (market: string): Promise<MarketLock> => {
      const held = await lock(market)
      return {
        get: () => held.get(),
        storeIf: ((snapshot: unknown, expected: number) => {
          void held.release()
          const revision = (snapshot as { revision: number }).revision
          if ((backing.rows.get(market)?.revision ?? 0) !== expected) return false
          backing.rows.set(market, { revision, text: JSON.stringify(snapshot) })
          return true
        }) as unknown as MarketLock['storeIf'],
        release: () => held.release(),
      }
    }
    // Two foreign writes racing the first two attempts force the locked replay.
    const storeIf = database.storeIf.bind(database)
    let conflicts = 0
    database.storeIf = async (market, snapshot, expected) => {
      if (conflicts < 2) {
        conflicts += 1
        backing.foreignWrite('m', () => {})
      }
      return storeIf(market, snapshot, expected)
    }
    const adjusted = track(stock.adjustQuantity(id, -1))
    await eventually(() => adjusted.settled)
    expect(database.locksTaken).toBeGreaterThan(0)
    expect(adjusted.settled).toBe(true)
    expect(errors).toEqual([])
  })
})

describe('MarketCache.start with an open() that rejects with a hostile value', () => {
  // README: start "Rejects ... with PersistenceError when the directory cannot be opened". Before the fix: the message's
  // `${describeValue(cause)}` throws, and start rejects with a bare TypeError instead.
  it('rejects with PersistenceError when the Error has a message that is not a string', async () => {
    const database = new MemoryDatabase()
    const cause = symbolMessageError()
    Object.assign(database, { open: () => Promise.reject(cause) })
    const error = await MarketCache.start({ database }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PersistenceError)
    expect((error as PersistenceError).cause).toBe(cause)
  })

  // Before the fix: `cause instanceof MarketError` itself throws on a revoked proxy (every trap throws), so start rejects with
  // a bare TypeError ("Cannot perform 'getPrototypeOf' on a proxy that has been revoked").
  it('rejects with PersistenceError when the rejection value is a proxy whose every trap throws', async () => {
    const database = new MemoryDatabase()
    const cause = revokedProxy()
    Object.assign(database, { open: () => Promise.reject(cause) })
    const error = await MarketCache.start({ database }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PersistenceError)
    expect((error as PersistenceError).cause === cause).toBe(true)
  })
})

describe('a load that fails with a hostile value', () => {
  // README/API: a failed read is a PersistenceError "with the storage error as cause". Before the fix: the load's catch block
  // throws (on `instanceof MarketError` for a revoked proxy, on the message for a Symbol message), the queued calls
  // are left to run on an unloaded actor and get "Market `m` is not loaded" with no cause, and the library reports
  // itself as having "hit an unexpected error".
  it.each([
    ['an Error whose message is not a string', symbolMessageError],
    ['a proxy whose every trap throws', revokedProxy],
  ])('rejects the queued calls with PersistenceError caused by it (%s)', async (_, hostile) => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const database = new MemoryDatabase()
    const { stock } = await start(database)
    const cause = hostile()
    database.failNextGet = cause
    const read = track(stock.listProducts())
    await eventually(() => read.settled)
    expect(read.error).toBeInstanceOf(PersistenceError)
    // Compared by identity: a failed toBe would try to print the revoked proxy.
    expect((read.error as PersistenceError).cause === cause).toBe(true)
    expect(warnings).not.toHaveBeenCalled()
  })
})

describe('get() returning a snapshot with a field that has no string form', () => {
  // README: "The actor validates exactly what get returns ... and a bad value surfaces as CorruptDataError". Before the fix:
  // fromSnapshot words its reason with String(value.format) / String(value.market), which throws for a
  // null-prototype object, and the call rejects with PersistenceError ("Could not load market") instead, which
  // tells the user to retry a read that can never succeed.
  it.each([
    ['format', () => ({ format: Object.create(null), market: 'm', revision: 1, products: {} })],
    ['market', () => ({ format: 1, market: Object.create(null), revision: 1, products: {} })],
  ])('rejects with CorruptDataError (a null-prototype `%s`)', async (_, snapshot) => {
    const database = new MemoryDatabase()
    const { stock } = await start(database)
    database.get = async () => snapshot()
    const error = await stock.listProducts().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CorruptDataError)
  })
})

describe('listeners that throw an Error whose stack is not a string', () => {
  // README: "A listener that throws never breaks the actor or reaches the caller; it is reported with
  // process.emitWarning". The reporter returns `error.stack` as is, and `${...}` of a Symbol throws out of
  // Emitter.emit's catch block, into the actor.

  // Before the fix: `persisted` is emitted before the gate is released, so the throw leaves every held reply at the gate: the
  // change's caller never settles, close() never resolves, and a TypeError escapes as an unhandled rejection.
  it('persisted: the change is still acknowledged and close() resolves', async () => {
    const errors = captureProcessErrors()
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const { cache, stock } = await start(new MemoryDatabase())
    cache.on('persisted', () => {
      throw symbolStackError()
    })
    const added = track(stock.addProduct(sample))
    await eventually(() => added.settled)
    const closed = track(cache.close())
    await eventually(() => closed.settled)
    expect({
      acknowledged: typeof added.value === 'string',
      closed: closed.settled,
      processErrors: errors.length,
    }).toEqual({ acknowledged: true, closed: true, processErrors: 0 })
  })

  // Before the fix: `change` is emitted while the gate releases a batch; the throw stops the release after the first reply, so
  // the rest of the group commit (here the second add) never settles, and close() never resolves.
  it('change: every change of the group commit is acknowledged', async () => {
    const errors = captureProcessErrors()
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const { cache, stock } = await start(new MemoryDatabase())
    await stock.listProducts() // loaded, so both adds share one store
    cache.on('change', () => {
      throw symbolStackError()
    })
    const first = track(stock.addProduct(sample))
    const second = track(stock.addProduct(sample))
    await eventually(() => first.settled && second.settled)
    const closed = track(cache.close())
    await eventually(() => closed.settled)
    expect({
      firstAcknowledged: typeof first.value === 'string',
      secondAcknowledged: typeof second.value === 'string',
      closed: closed.settled,
      processErrors: errors.length,
    }).toEqual({ firstAcknowledged: true, secondAcknowledged: true, closed: true, processErrors: 0 })
  })

  // Before the fix: `passivate` is emitted from the idle timer, so the throw is an uncaught exception: it crashes a process
  // that has no `uncaughtException` handler.
  it('passivate: nothing escapes from the idle timer', async () => {
    const errors = captureProcessErrors()
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const { cache, stock } = await start(new MemoryDatabase(), { idleTimeoutMs: 1 })
    let passivated = false
    cache.on('passivate', () => {
      passivated = true
      throw symbolStackError()
    })
    await stock.addProduct(sample)
    expect(await eventually(() => passivated)).toBe(true)
    await settle()
    expect(errors).toEqual([])
  })

  // Before the fix: `activate` is emitted inside the call that spawns the actor, so the call rejects with a bare TypeError
  // instead of running (the README promises the caller never sees a listener's throw).
  it('activate: the call that spawned the actor still runs', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const { cache, stock } = await start(new MemoryDatabase())
    cache.on('activate', () => {
      throw symbolStackError()
    })
    expect(await stock.listProducts()).toEqual([])
  })

  // Before the fix: `persistError` is emitted after the failed store's callers were rejected; the throw escapes as an
  // unhandled rejection (a process run with --unhandled-rejections=strict, Node's default, dies of it).
  it('persistError: nothing escapes as an unhandled rejection', async () => {
    const errors = captureProcessErrors()
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const database = new MemoryDatabase()
    const { cache, stock } = await start(database)
    cache.on('persistError', () => {
      throw symbolStackError()
    })
    database.store = () => Promise.reject(new Error('disk full'))
    await expect(stock.addProduct(sample)).rejects.toBeInstanceOf(PersistenceError)
    await settle()
    await settle()
    expect(errors).toEqual([])
  })
})

/**
 * A native promise with an own `then` that forgets its `return` (it still settles the callbacks it is given):
 * `promise.then(f)` returns `undefined`. `await` ignores an own `then` (it uses the intrinsic one); a method call
 * `.then(...)` does not.
 */
function withForgetfulThen<T>(promise: Promise<T>): Promise<T> {
  Object.defineProperty(promise, 'then', {
    configurable: true,
    value(onFulfilled?: (value: T) => unknown, onRejected?: (error: unknown) => unknown) {
      void Promise.prototype.then.call(promise, onFulfilled, onRejected)
    },
  })
  return promise
}

describe('databaseCall hands back the database promise itself', () => {
  // databaseCall does `Promise.resolve(result)`, which returns a native promise as is, so the library then calls the
  // database's own `then` property: a promise that does resolve, but whose `then` returns no promise, is not turned
  // into anything safe.
  //
  // Expected (README, Database: "A store that throws or returns something other than a promise counts as a failed
  // store"; a promise that resolves is a store that succeeded): the change settles, close() resolves, nothing escapes.
  // Before the fix: MarketStorage.store's `.then(() => true)` returns undefined, `#store` calls `.then` on it inside
  // its queueMicrotask callback: an uncaught TypeError, the actor stays in phase 'storing' for good, the change's
  // caller never settles, and close() never resolves.
  it('a store whose promise has an own then returning nothing settles the change and close() resolves', async () => {
    const errors = captureProcessErrors()
    const database = new MemoryDatabase()
    const { cache, stock } = await start(database)
    await stock.listProducts()
    const store = database.store.bind(database)
    database.store = (market, snapshot) => withForgetfulThen(store(market, snapshot))
    await expectChangeSettlesAndCloses(cache, stock, errors)
  })

  // The same through `revisions()`: RevisionCheck#start calls `.then(...).catch(...)` on the database's promise;
  // `.catch` of undefined throws inside #start's queueMicrotask callback after `#running` was set.
  //
  // Expected (README, SharedDatabase: a bad revisions answer "rejects the reads waiting on it ...; the next check asks
  // again"): the read settles, and once `revisions` behaves again a read of another market is answered.
  // Before the fix: that read is answered (the forgetful `then` still registered the handler), but `.catch` of its
  // undefined result throws in #start's queueMicrotask callback: an uncaught TypeError, and `.finally` is never
  // attached, so `#running` stays true and no revision check ever starts again: every later read of EVERY market of
  // the cache hangs for good, also after the database is fixed (the defect the first review fixed for a revisions()
  // returning a bare Map, still reachable).
  it('a revisions() promise whose own then returns nothing does not stall every later check', async () => {
    const errors = captureProcessErrors()
    const database = new SharedMemoryDatabase(new SharedStore())
    const { cache, stock } = await start(database)
    await stock.addProduct(sample)
    const revisions = database.revisions.bind(database)
    database.revisions = (markets) => withForgetfulThen(revisions(markets))
    const read = track(stock.listProducts())
    await eventually(() => read.settled, 200)
    database.revisions = revisions
    const other = track(cache.market('other').listProducts())
    await eventually(() => other.settled, 200)
    expect({
      readSettled: read.settled,
      laterReadOfAnotherMarketSettled: other.settled,
      processErrors: errors.length,
    }).toEqual({ readSettled: true, laterReadOfAnotherMarketSettled: true, processErrors: 0 })
  })

  // Same through `storeIf` on a shared database: the boolean check's `.then` is called on the database's promise.
  it('a storeIf promise whose own then returns nothing settles the change and close() resolves', async () => {
    const errors = captureProcessErrors()
    const database = new SharedMemoryDatabase(new SharedStore())
    const { cache, stock } = await start(database)
    await stock.listProducts()
    const storeIf = database.storeIf.bind(database)
    database.storeIf = (market, snapshot, expected) => withForgetfulThen(storeIf(market, snapshot, expected))
    await expectChangeSettlesAndCloses(cache, stock, errors)
  })
})

describe('the revisions answer check', () => {
  // Expected (README, SharedDatabase: a revisions answer "that is not a Map of safe integers >= 0 rejects"; before
  // 1d4a824 any answer with a working `get` was used): a Map from another realm (a `vm` context, as a test runner or
  // sandbox creates) is a Map of safe integers, and the read is answered.
  // Before the fix: `revisions instanceof Map` is false across realms, so every read of the cache rejects with
  // PersistenceError ("resolved with [object Map], not a Map"), for good.
  it('accepts a Map created in another realm', async () => {
    const database = new SharedMemoryDatabase(new SharedStore())
    const { stock } = await start(database)
    await stock.addProduct(sample)
    database.revisions = async (markets) => {
      const found = runInNewContext('new Map()') as Map<string, number>
      for (const market of markets) {
        const row = database.backing.rows.get(market)
        if (row) found.set(market, row.revision)
      }
      return found
    }
    const read = await stock.listProducts().catch((e: unknown) => e)
    expect(read).toEqual([{ id: expect.any(String), ...sample }])
  })

  // Expected (README, SharedDatabase: a revisions answer that is not a Map "of safe integers >= 0 rejects the reads
  // waiting on it with PersistenceError"): a Map holding `null` for the market rejects the read.
  // Before the fix: `revisions.get(market) ?? 0` turns null into 0 ("nothing stored"), the check passes, and the read
  // is answered from memory although the database holds a newer revision written by another instance: a stale read
  // the README's Linearizable guarantee rules out.
  it('rejects a read whose revision is null instead of answering it from stale memory', async () => {
    const backing = new SharedStore()
    const database = new SharedMemoryDatabase(backing)
    const { stock } = await start(database)
    const id = await stock.addProduct(sample)
    backing.setQuantity('m', id, 1) // another instance sells: the database is now at revision 2
    database.revisions = async (markets) => new Map(markets.map((market) => [market, null as unknown as number]))
    const read = await stock.getProduct(id).catch((e: unknown) => e)
    expect(read).toBeInstanceOf(PersistenceError)
    expect(read).toMatchObject({ message: 'Could not check market `m`: Database.revisions() gave null for a revision' })
  })

  it('rejects a read whose revision is negative', async () => {
    const database = new SharedMemoryDatabase(new SharedStore())
    const { stock } = await start(database)
    const id = await stock.addProduct(sample)
    database.revisions = async (markets) => new Map(markets.map((market) => [market, -1]))
    await expect(stock.getProduct(id)).rejects.toMatchObject({
      message: 'Could not check market `m`: Database.revisions() gave -1 for a revision',
    })
  })
})

describe('a database call that answers with no promise, or with the wrong value', () => {
  // Expected (README, Database and SharedDatabase): the call fails with a PersistenceError that says which method
  // answered what, memory is reloaded from what is stored, and the next change is stored as usual.
  const noPromise = undefined as unknown as Promise<never>
  it.each([
    [
      'storeIf() returns no promise',
      (database: SharedMemoryDatabase) => {
        database.storeIf = () => noPromise
      },
      'Could not store market `m`: Database.storeIf() returned undefined, not a promise',
    ],
    [
      'storeIf() resolves with neither true nor false',
      (database: SharedMemoryDatabase) => {
        database.storeIf = async () => undefined as unknown as boolean
      },
      'Could not store market `m`: Database.storeIf() resolved with undefined, not true or false',
    ],
  ])('rejects the change when %s, and stores the next one', async (_, misbehave, message) => {
    const database = new SharedMemoryDatabase(new SharedStore())
    const { stock } = await start(database)
    const id = await stock.addProduct(sample)
    const { storeIf } = database
    misbehave(database)
    const failed = await stock.adjustQuantity(id, -1).catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(PersistenceError)
    expect(failed).toMatchObject({ message })
    database.storeIf = storeIf
    expect(await stock.adjustQuantity(id, -2)).toBe(sample.quantity - 2)
    expect(database.backing.snapshot('m')?.products[id]?.quantity).toBe(sample.quantity - 2)
  })

  it('rejects the change when store() returns no promise, and stores the next one', async () => {
    const database = new MemoryDatabase()
    const { stock } = await start(database)
    const id = await stock.addProduct(sample)
    const store = database.store
    database.store = () => noPromise
    await expect(stock.adjustQuantity(id, -1)).rejects.toMatchObject({
      message: 'Could not store market `m`: Database.store() returned undefined, not a promise',
    })
    database.store = store
    expect(await stock.adjustQuantity(id, -2)).toBe(sample.quantity - 2)
    expect(database.stored('m')?.products[id]).toMatchObject({ quantity: sample.quantity - 2 })
  })

  it('rejects the reads of a check whose revisions() returns no promise, and answers the next', async () => {
    const database = new SharedMemoryDatabase(new SharedStore())
    const { stock } = await start(database)
    const id = await stock.addProduct(sample)
    const revisions = database.revisions
    database.revisions = () => new Map() as unknown as Promise<Map<string, number>>
    const read = await stock.getProduct(id).catch((e: unknown) => e)
    expect(read).toMatchObject({
      message: 'Could not check market `m`: Database.revisions() returned [object Map], not a promise',
    })
    database.revisions = revisions
    expect(await stock.getProduct(id)).toEqual(sample)
  })
})

describe('get() returning a snapshot that throws when read', () => {
  // Expected (README, Database: "The actor validates exactly what get returns ... and a bad value surfaces as
  // CorruptDataError"; the first review made a null-prototype field a CorruptDataError on the same grounds): a
  // snapshot whose field throws when read is a bad value.
  // Before the fix: fromSnapshot reads the fields outside any catch (the argument of describeValue(value.format) is
  // evaluated before describeValue's own try), so the throw leaves load() raw and the call rejects with
  // PersistenceError ("Could not load market"), which says to retry a read that can never succeed.
  it.each([
    [
      'a getter that throws on the first read',
      () => ({
        get format(): number {
          throw new Error('no format')
        },
        market: 'm',
        revision: 1,
        products: {},
      }),
    ],
    [
      'a getter that answers a wrong format, then throws on the second read (while the reason is worded)',
      () => {
        let reads = 0
        return {
          get format(): number {
            reads += 1
            if (reads > 1) throw new Error('second read')
            return 2
          },
          market: 'm',
          revision: 1,
          products: {},
        }
      },
    ],
    [
      // `then` answers, or resolving get()'s promise would read it and reject get() itself (a PersistenceError).
      'a proxy whose traps throw',
      () =>
        new Proxy(
          {},
          {
            get(_, key) {
              if (key === 'then') return undefined
              throw new Error('trap')
            },
            ownKeys() {
              throw new Error('trap')
            },
          },
        ),
    ],
  ])('rejects with CorruptDataError (%s)', async (_, snapshot) => {
    const database = new MemoryDatabase()
    const { stock } = await start(database)
    database.get = async () => snapshot()
    const error = await stock.listProducts().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CorruptDataError)
    expect((error as CorruptDataError).message).toMatch(/^Stored data of market `m` is corrupt: cannot be read: /)
  })

  // Expected (README, Database: "An optional locate(market): string names where the market is stored ... in that
  // error's message and location field"; "a bad value surfaces as CorruptDataError"): corrupt data still rejects
  // with CorruptDataError when `locate` hands back something without a string form.
  // Before the fix: the CorruptDataError's message is built with `${location}` (not describeValue), which throws for
  // a Symbol, so the call rejects with PersistenceError instead.
  it('rejects with CorruptDataError when locate() returns a value without a string form', async () => {
    const database = new MemoryDatabase()
    const { stock } = await start(database)
    database.get = async () => ({ format: 1, market: 'm', revision: -1, products: {} })
    Object.assign(database, { locate: () => Symbol('row') })
    const error = await stock.listProducts().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CorruptDataError)
  })
})
