import { afterEach, describe, expect, it } from 'vitest'
import { MarketCache, ValidationError } from '../src/index.js'
import { MemoryDatabase } from './helpers/memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

async function start(options: { generateId?: () => string } = {}) {
  const cache = await MarketCache.start({ database: new MemoryDatabase(), ...options })
  caches.push(cache)
  return cache
}

/** The message of the ValidationError `call` rejects or throws with. */
async function messageOf(call: () => unknown): Promise<string> {
  let error: unknown
  try {
    await call()
  } catch (caught) {
    error = caught
  }
  expect(error).toBeInstanceOf(ValidationError)
  return (error as ValidationError).message
}

/** An object whose every property read throws, as a hostile proxy would. */
const hostile = () =>
  new Proxy(
    {},
    {
      get() {
        throw new Error('hostile read')
      },
    },
  )

describe('product validation messages', () => {
  it('names a missing field as undefined', async () => {
    const { expirationDate: _, ...missing } = sample
    const stock = (await start()).market('m')
    expect(await messageOf(() => stock.addProduct(missing as never))).toBe(
      'Expected `expirationDate` to be a real calendar date as YYYY-MM-DD, got `undefined`',
    )
  })

  it('names a value JSON cannot show by its type', async () => {
    const stock = (await start()).market('m')
    expect(await messageOf(() => stock.addProduct({ ...sample, quantity: 10n } as never))).toBe(
      'Expected `quantity` to be a safe integer >= 0, got `[object BigInt]`',
    )
  })

  it('shows a rejected value of up to 40 characters whole and cuts a longer one', async () => {
    const stock = (await start()).market('m')
    const forty = 'x'.repeat(38) // 40 characters once quoted
    expect(await messageOf(() => stock.addProduct({ ...sample, quantity: forty } as never))).toBe(
      `Expected \`quantity\` to be a safe integer >= 0, got \`"${forty}"\``,
    )
    expect(await messageOf(() => stock.addProduct({ ...sample, quantity: 'y'.repeat(100) } as never))).toBe(
      `Expected \`quantity\` to be a safe integer >= 0, got \`"${'y'.repeat(39)}…\``,
    )
  })

  it('lists every problem of a product, separated by semicolons', async () => {
    const stock = (await start()).market('m')
    expect(await messageOf(() => stock.addProduct({ ...sample, quantity: -1, price: -2 }))).toBe(
      'Expected `quantity` to be a safe integer >= 0, got `-1`; Expected `price` to be a finite number >= 0, got `-2`',
    )
  })

  it('names exactly five unknown keys without counting more', async () => {
    const stock = (await start()).market('m')
    const keys = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, i]))
    expect(await messageOf(() => stock.addProduct({ ...sample, ...keys } as never))).toBe(
      'Unknown product field(s) `k0`, `k1`, `k2`, `k3`, `k4`; expected name, quantity, expirationDate, price',
    )
  })
})

describe('input that throws when read', () => {
  it('is a ValidationError saying what could not be read and why', async () => {
    const product = {
      ...sample,
      get price(): number {
        throw new Error('price getter failed')
      },
    }
    const stock = (await start()).market('m')
    expect(await messageOf(() => stock.addProduct(product))).toBe('Could not read the product: price getter failed')
  })

  it('reports a thrown value that is not an Error as text', async () => {
    const product = {
      ...sample,
      get price(): number {
        throw 'no price today'
      },
    }
    const stock = (await start()).market('m')
    expect(await messageOf(() => stock.addProduct(product))).toBe('Could not read the product: no price today')
  })

  it('names the product id or the generated id that could not be read', async () => {
    const cache = await start({ generateId: () => hostile() as never })
    const stock = cache.market('m')
    expect(await messageOf(() => stock.getProduct(hostile() as never))).toBe(
      'Could not read the product id: hostile read',
    )
    expect(await messageOf(() => stock.addProduct(sample))).toBe('Could not read the generated id: hostile read')
    expect(await stock.listProducts()).toEqual([])
  })

  it('is a ValidationError for a delta or a market name whose every read throws, not the raw error', async () => {
    const cache = await start()
    const stock = cache.market('m')
    const id = await stock.addProduct(sample)
    expect(await messageOf(() => stock.adjustQuantity(id, hostile() as never))).toBe(
      'Expected `delta` to be a safe integer, got `[object]`',
    )
    expect(await messageOf(() => cache.market(hostile() as never))).toBe(
      'Expected `market name` to be a string of 1 to 200 characters, got `[object]`',
    )
    expect((await stock.getProduct(id))?.quantity).toBe(sample.quantity)
  })
})
