import { afterEach, describe, expect, it } from 'vitest'
import { MarketCache } from '../src/index.js'
import { MemoryDatabase, until } from './helpers/memory-database.js'
import { sample } from './helpers/temp-dir.js'

const caches: MarketCache[] = []
const warnings: (Error & { code?: string })[] = []
const onWarning = (warning: Error) => warnings.push(warning)
afterEach(async () => {
  process.off('warning', onWarning)
  warnings.splice(0)
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

/** A cache whose `change` listener throws `thrown`; resolves to the warning that reports it. */
async function warningFor(thrown: () => unknown): Promise<Error & { code?: string }> {
  process.on('warning', onWarning)
  const cache = await MarketCache.start({ database: new MemoryDatabase() })
  caches.push(cache)
  cache.on('change', () => {
    throw thrown()
  })
  expect(typeof (await cache.market('m').addProduct(sample))).toBe('string')
  await until(() => warnings.length > 0, 'the warning')
  expect(warnings).toHaveLength(1)
  return warnings[0] as Error & { code?: string }
}

describe('a listener that throws', () => {
  it('is reported as a MARKET_SYSTEM_LISTENER warning naming the event and carrying the stack trace', async () => {
    const error = new Error('listener bug')
    const warning = await warningFor(() => error)
    expect(warning.code).toBe('MARKET_SYSTEM_LISTENER')
    expect(warning.message).toBe(`A \`change\` listener threw: ${error.stack}`)
  })

  it('is reported by its message when the error has no stack', async () => {
    const warning = await warningFor(() => Object.assign(new Error('no trace'), { stack: undefined }))
    expect(warning.message).toBe('A `change` listener threw: no trace')
  })

  it('is reported as text when the thrown value is not an Error', async () => {
    const warning = await warningFor(() => 'plain text')
    expect(warning.message).toBe('A `change` listener threw: plain text')
  })

  it('is reported even when the thrown value has no string form', async () => {
    const warning = await warningFor(() => Object.create(null))
    expect(warning.message).toBe('A `change` listener threw: [object Object]')
  })
})

describe('cache.off', () => {
  it('is harmless for an event that never had a listener, and returns the cache', async () => {
    const cache = await MarketCache.start({ database: new MemoryDatabase() })
    caches.push(cache)
    expect(cache.off('passivate', () => {})).toBe(cache)
    await cache.market('m').addProduct(sample)
  })
})
