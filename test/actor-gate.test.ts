// The output gate at its edges: a read still waiting for its revision check when a later store fails, and the
// gate's memory under a market whose gate empties after every store.

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { MarketCache, PersistenceError } from '../src/index.js'
import { OutputGate } from '../src/output-gate.js'
import { settle, track } from './helpers/memory-database.js'
import { SharedMemoryDatabase, SharedStore } from './helpers/shared-memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

describe('a read waiting for its revision check when a later store fails', () => {
  it('is never answered from state another instance had already replaced', async () => {
    const store = new SharedStore()
    const database = new SharedMemoryDatabase(store)
    const cache = await MarketCache.start({ database })
    caches.push(cache)
    const stock = cache.market('m')
    const id = await stock.addProduct({ ...sample, quantity: 10 })
    // Another instance stores quantity 1 and is acknowledged; this instance still holds quantity 10 in memory.
    store.foreignWrite('m', (products) => {
      ;(products[id] as { quantity: number }).quantity = 1
    })
    const storeIf = database.storeIf.bind(database)
    let stores = 0
    database.storeIf = (market, snapshot, expected) => {
      stores += 1
      return stores === 1 ? Promise.reject(new Error('connection lost')) : storeIf(market, snapshot, expected)
    }
    database.hold = true // revision checks wait (the failing store does not reach the hold)
    const read = track(stock.getProduct(id)) // computed from quantity 10: it must wait for its check
    const sale = track(stock.adjustQuantity(id, -1)) // its store fails
    await settle()
    expect(sale.error).toBeInstanceOf(PersistenceError)
    expect(read.settled).toBe(true)
    expect(read.error).toBeInstanceOf(PersistenceError)
    expect(read.value).toBeUndefined()
    database.hold = false
    for (const letGo of database.waiting.splice(0)) letGo()
    expect(await stock.getProduct(id)).toMatchObject({ quantity: 1 })
  })
})

describe('output gate memory', () => {
  it('keeps no slot for released replies when the gate empties after every release', () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const gate = new OutputGate<number>()
    const settleNothing = () => {}
    // A market called one change at a time: each reply is held, then released by its own store.
    for (let revision = 1; revision <= 2_000; revision++) {
      gate.hold({ call: revision, revision, settle: settleNothing })
      gate.release(revision)
    }
    gc()
    const before = process.memoryUsage().heapUsed
    for (let revision = 2_001; revision <= 1_000_000; revision++) {
      gate.hold({ call: revision, revision, settle: settleNothing })
      gate.release(revision)
    }
    gc()
    const grown = process.memoryUsage().heapUsed - before
    expect(gate.size).toBe(0)
    // A gate that kept a slot per released reply would hold about a million of them here (8 MB or more).
    expect(grown).toBeLessThan(3_000_000)
  })
})
