import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { fileNameFor } from '../src/file-database/file-names.js'
import { CorruptDataError, FileDatabase, MarketCache, productSchema } from '../src/index.js'
import { describeDatabase } from './helpers/describe-database.js'
import { MemoryDatabase } from './helpers/memory-database.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()

describeDatabase('MemoryDatabase (test double)', async () => new MemoryDatabase())
describeDatabase('FileDatabase', async () => new FileDatabase({ dir: await tempDir() }))
describeDatabase(
  'FileDatabase without fsync, one lane',
  async () => new FileDatabase({ dir: await tempDir(), fsync: false, workers: 1 }),
)

describe('FileDatabase', () => {
  it('writes the documented file format, named by the market', async () => {
    const dir = await tempDir()
    const cache = await MarketCache.start({ dataDir: dir })
    const id = await cache.market("Bob's list").addProduct(sample)
    await cache.close()
    const file = join(dir, fileNameFor("Bob's list"))
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      format: 1,
      market: "Bob's list",
      revision: 1,
      products: { [id]: sample },
    })
    expect(await readdir(dir)).toEqual([fileNameFor("Bob's list")])
  })

  it('creates a missing data directory', async () => {
    const dir = join(await tempDir(), 'nested', 'persist')
    const cache = await MarketCache.start({ dataDir: dir })
    await cache.market('m').addProduct(sample)
    await cache.close()
    expect((await stat(dir)).isDirectory()).toBe(true)
  })

  it('removes temporary files left by a crash when it opens the directory', async () => {
    const dir = await tempDir()
    const leftover = `${fileNameFor('m')}.0123456789abcdef.tmp`
    await writeFile(join(dir, leftover), '{"torn')
    await writeFile(join(dir, 'notes.txt'), 'kept')
    const database = new FileDatabase({ dir })
    await database.open()
    expect(await readdir(dir)).not.toContain(leftover)
    expect(await readdir(dir)).toContain('notes.txt')
    await database.close()
  })

  it.each([
    ['a truncated file', (text: string) => text.slice(0, text.length / 2)],
    ['an empty file', () => ''],
    ['another market', (text: string) => text.replace('"market":"m"', '"market":"other"')],
    ['an invalid product', (text: string) => text.replace('"quantity":5', '"quantity":-5')],
    ['a format from the future', (text: string) => text.replace('"format":1', '"format":2')],
    ['a JSON array', () => '[]'],
  ])('reports %s as CorruptDataError for that market only and never rewrites it', async (_title, corrupt) => {
    const dir = await tempDir()
    let cache = await MarketCache.start({ dataDir: dir })
    await cache.market('m').addProduct(sample)
    await cache.market('healthy').addProduct(sample)
    await cache.close()
    const file = join(dir, fileNameFor('m'))
    const bytes = corrupt(await readFile(file, 'utf8'))
    await writeFile(file, bytes)

    cache = await MarketCache.start({ dataDir: dir })
    const error = await cache
      .market('m')
      .addProduct(sample)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CorruptDataError)
    expect((error as CorruptDataError).location).toBe(file)
    expect((error as Error).message).toContain(file)
    await expect(cache.market('m').listProducts()).rejects.toBeInstanceOf(CorruptDataError)
    expect(await cache.market('healthy').listProducts()).toHaveLength(1)
    await cache.market('healthy').addProduct(sample)
    await cache.close()
    expect(await readFile(file, 'utf8')).toBe(bytes)
  })

  it('returns a parseable file as it is, leaving validation to the actor, and names a file it cannot parse', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir })
    const file = database.locate('m')
    expect(file).toBe(join(dir, fileNameFor('m')))
    await writeFile(file, '{"format":2,"market":"other","products":[]}')
    expect(await database.get('m')).toEqual({ format: 2, market: 'other', products: [] })
    await writeFile(file, '{"format":1,')
    const error = await database.get('m').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CorruptDataError)
    expect(error).toMatchObject({ market: 'm', location: file })
    expect((error as Error).message).toContain(file)
    expect((error as Error).cause).toBeInstanceOf(SyntaxError)
    // A file naming another market is not listed under this one's name.
    await writeFile(file, '{"market":"other"}')
    await database.get('m')
    expect(await database.markets()).toEqual([])
    await database.close()
  })

  it('spreads markets over its lanes and keeps each market on one', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir, workers: 4 })
    const markets = Array.from({ length: 40 }, (_, i) => `market ${i}`)
    await Promise.all(
      markets.flatMap((market) =>
        [1, 2, 3].map((revision) => database.store(market, { format: 1, market, revision, products: {} })),
      ),
    )
    for (const market of markets) expect(await database.get(market)).toMatchObject({ revision: 3 })
    await database.close()
  })

  it('keeps hostile market names inside the directory, distinct, and lists them back exactly', async () => {
    const root = await tempDir()
    const dir = join(root, 'data')
    const names = ['../x', '/etc/passwd', 'a/b', '.', '..', 'CON', 'Bob', 'bob', '🍎'.repeat(200), ' padded ']
    let cache = await MarketCache.start({ dataDir: dir })
    for (const name of names) await cache.market(name).addProduct({ ...sample, name: 'x' })
    await cache.close()
    expect(await readdir(root)).toEqual(['data'])
    const files = await readdir(dir)
    expect(files).toHaveLength(names.length)
    expect(new Set(files.map((file) => file.toLowerCase())).size).toBe(names.length)
    for (const file of files) expect(Buffer.byteLength(file)).toBeLessThanOrEqual(255)
    cache = await MarketCache.start({ dataDir: dir })
    expect(await cache.markets()).toEqual([...names].sort())
    for (const name of names) expect(await cache.market(name).listProducts()).toHaveLength(1)
    await cache.close()
  })

  it('validates each stored product once per load, not once in the database and again in the actor', async () => {
    const dir = await tempDir()
    let cache = await MarketCache.start({ dataDir: dir })
    for (let i = 0; i < 3; i++) await cache.market('m').addProduct(sample)
    await cache.close()
    const safeParse = vi.spyOn(productSchema, 'safeParse')
    try {
      cache = await MarketCache.start({ dataDir: dir })
      expect(await cache.market('m').listProducts()).toHaveLength(3)
      expect(safeParse).toHaveBeenCalledTimes(3)
      await cache.close()
    } finally {
      safeParse.mockRestore()
    }
  })

  it('rejects a workers count below one', () => {
    expect(() => new FileDatabase({ dir: 'x', workers: 0 })).toThrow(RangeError)
  })
})
