import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fileNameFor, isMarketFile } from '../src/file-database/file-names.js'
import { CorruptDataError, MarketCache, ValidationError } from '../src/index.js'
import { MemoryDatabase } from './helpers/memory-database.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()

// Any UTF-16 string: whole code points of every plane, plus lone surrogates, which JavaScript
// strings can hold and naive UTF-8 encoding silently replaces with U+FFFD.
const codeUnit = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
  fc.constantFrom('é', 'e\u0301', 'É', 'ß', 'SS', 'İ', 'ı', 'ﬁ', 'K', 'K', '\uFFFD', '.', '/', '\\', ' ', 'A', 'a'),
)
// biome-ignore lint/suspicious/noControlCharactersInRegex: the names the API accepts have none
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const marketName = fc
  .array(codeUnit, { minLength: 1, maxLength: 60 })
  .map((units) => units.join(''))
  .filter((name) => !CONTROL.test(name) && [...name].length <= 200)

/** Names a file system could confuse with `name`: other case, other normalization, other lone surrogate. */
function lookalikes(name: string): string[] {
  return [
    name.toLowerCase(),
    name.toUpperCase(),
    name.normalize('NFC'),
    name.normalize('NFD'),
    name.normalize('NFKC'),
    name.normalize('NFKD'),
    name.replace(/[\ud800-\udfff]/g, '\uFFFD'),
    name.replace(/[\ud800-\udbff]/g, (unit) => String.fromCharCode(unit.charCodeAt(0) ^ 1)),
  ]
}

/** What a case-folding, normalizing file system would make of a file name. */
const folded = (file: string) => file.normalize('NFKC').toLowerCase()

describe('market name to file name', () => {
  it('stays a plain file name inside the data dir, within 255 bytes', () => {
    const dir = resolve('/data/persist')
    fc.assert(
      fc.property(marketName, (name) => {
        const file = fileNameFor(name)
        expect(isMarketFile(file)).toBe(true)
        expect(Buffer.byteLength(file, 'utf8')).toBeLessThanOrEqual(255)
        expect(dirname(join(dir, file))).toBe(dir)
        expect(file).toMatch(/^[a-z0-9][a-z0-9.-]*$/)
      }),
      { numRuns: 2000 },
    )
  })

  it('gives distinct names distinct files, even after case folding and NFC/NFD normalization', () => {
    fc.assert(
      fc.property(marketName, marketName, (a, b) => {
        for (const other of [b, ...lookalikes(a)]) {
          if (other === a) continue
          expect(folded(fileNameFor(other))).not.toBe(folded(fileNameFor(a)))
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('keeps names that differ only in a lone surrogate apart', () => {
    const names = ['\ud800', '\ud801', '\udc00', '\uFFFD', 'x\ud800', 'x\uFFFD']
    expect(new Set(names.map(fileNameFor)).size).toBe(names.length)
  })

  it('lists every stored name exactly through markets() after a restart', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(marketName, { minLength: 1, maxLength: 6 }), async (names) => {
        const dir = await tempDir()
        let cache = await MarketCache.start({ dataDir: dir, fsync: false })
        for (const name of names) await cache.market(name).addProduct(sample)
        await cache.close()
        cache = await MarketCache.start({ dataDir: dir, fsync: false })
        try {
          expect(await cache.markets()).toEqual([...names].sort())
          for (const name of names) expect(await cache.market(name).listProducts()).toHaveLength(1)
        } finally {
          await cache.close()
        }
      }),
      { numRuns: Math.min(25, Number(process.env.FC_NUM_RUNS) || 25) },
    )
  })

  it('never lets one market overwrite another whose name encodes to the same UTF-8', async () => {
    const dir = await tempDir()
    const cache = await MarketCache.start({ dataDir: dir })
    await cache.market('\uFFFD').addProduct(sample)
    await cache.market('\ud800').addProduct({ ...sample, name: 'other' })
    expect((await cache.market('\uFFFD').listProducts()).map((p) => p.name)).toEqual(['linguissa'])
    await cache.close()
    const again = await MarketCache.start({ dataDir: dir })
    expect(await again.market('\uFFFD').listProducts()).toHaveLength(1)
    expect((await again.market('\ud800').listProducts()).map((p) => p.name)).toEqual(['other'])
    expect(await again.markets()).toEqual(['\ud800', '\uFFFD'])
    await again.close()
  })
})

// ---- hostile product inputs ----

function throwingGetter(field: string): object {
  const product: Record<string, unknown> = { ...sample }
  Object.defineProperty(product, field, {
    enumerable: true,
    get() {
      throw new Error(`getter of ${field} exploded`)
    },
  })
  return product
}

const throwingProxy = (trap: keyof ProxyHandler<object>) =>
  new Proxy(
    { ...sample },
    {
      [trap]: () => {
        throw new Error(`${trap} trap exploded`)
      },
    },
  )

function nested(depth: number): unknown {
  let value: unknown = 'bottom'
  for (let i = 0; i < depth; i++) value = { name: value, list: [value] }
  return value
}

const circular = (): object => {
  const product: Record<string, unknown> = { ...sample }
  product.self = product
  return product
}

const HUGE = 'x'.repeat(10 * 1024 * 1024)

const hostileInputs: [string, () => unknown][] = [
  ...['name', 'quantity', 'expirationDate', 'price'].map((field): [string, () => unknown] => [
    `a getter of ${field} that throws`,
    () => throwingGetter(field),
  ]),
  ...(['get', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'has'] as const).map(
    (trap): [string, () => unknown] => [`a proxy whose ${trap} trap throws`, () => throwingProxy(trap)],
  ),
  ['an own __proto__ key', () => JSON.parse(`{"__proto__":{"polluted":true},${JSON.stringify(sample).slice(1)}`)],
  ['a constructor key', () => ({ ...sample, constructor: { prototype: { polluted: true } } })],
  ['a prototype key', () => ({ ...sample, prototype: { polluted: true } })],
  ['a 10 MB name', () => ({ ...sample, name: HUGE })],
  ['a 10 MB date', () => ({ ...sample, expirationDate: HUGE })],
  ['a 10 MB string as quantity', () => ({ ...sample, quantity: HUGE })],
  ['a 10 MB unknown key', () => ({ ...sample, [HUGE]: 1 })],
  ['a 10 MB string as the product', () => HUGE],
  [
    'a hundred thousand unknown keys',
    () => ({ ...sample, ...Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i])) }),
  ],
  ['a name nested 100 000 levels deep', () => ({ ...sample, name: nested(100_000) })],
  ['a product nested 100 000 levels deep', () => nested(100_000)],
  ['a circular product', circular],
  ['an array of a million products', () => new Array(1_000_000).fill(sample)],
  ['a symbol', () => Symbol('product')],
  ['a function', () => () => sample],
  ['a bigint quantity', () => ({ ...sample, quantity: 5n })],
  ['a boxed string name', () => ({ ...sample, name: new String('boxed') })],
]

describe('hostile product input', () => {
  it.each(hostileInputs)('rejects %s with a short ValidationError and stores nothing', async (_title, make) => {
    const database = new MemoryDatabase()
    const cache = await MarketCache.start({ database })
    const market = cache.market('m')
    const id = await market.addProduct(sample)
    const input = make()
    for (const call of [() => market.addProduct(input as never), () => market.updateProduct(id, input as never)]) {
      const error = await call().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ValidationError)
      expect((error as Error).message.length).toBeLessThan(2000)
    }
    expect(database.storeCalls).toHaveLength(1)
    expect(await market.listProducts()).toEqual([{ id, ...sample }])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    await cache.close()
  })

  it('rejects any non-product value with ValidationError and nothing else', async () => {
    const database = new MemoryDatabase()
    const cache = await MarketCache.start({ database })
    const market = cache.market('m')
    const id = await market.addProduct(sample)
    await fc.assert(
      fc.asyncProperty(
        fc.anything({ withBoxedValues: true, withMap: true, withSet: true, withNullPrototype: true }),
        async (input) => {
          const error = await market.addProduct(input as never).catch((e: unknown) => e)
          expect(error).toBeInstanceOf(ValidationError)
          if (!Number.isSafeInteger(input)) {
            await expect(market.adjustQuantity(id, input as never)).rejects.toBeInstanceOf(ValidationError)
          }
          const named = (() => {
            try {
              return cache.market(input as never)
            } catch (e) {
              return e
            }
          })()
          if (typeof input !== 'string') expect(named).toBeInstanceOf(ValidationError)
        },
      ),
      { numRuns: 300 },
    )
    expect(database.storeCalls).toHaveLength(1)
    expect(await market.listProducts()).toEqual([{ id, ...sample }])
    await cache.close()
  })

  it('rejects ids and deltas of the wrong type with ValidationError', async () => {
    const cache = await MarketCache.start({ database: new MemoryDatabase() })
    const market = cache.market('m')
    for (const id of ['', 5, null, undefined, {}, HUGE.slice(0, 0)]) {
      await expect(market.getProduct(id as never)).rejects.toBeInstanceOf(ValidationError)
      await expect(market.deleteProduct(id as never)).rejects.toBeInstanceOf(ValidationError)
    }
    for (const delta of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1', null]) {
      await expect(market.adjustQuantity('id', delta as never)).rejects.toBeInstanceOf(ValidationError)
    }
    await cache.close()
  })
})

// ---- hostile stored files ----

describe('stored files with prototype-sensitive keys', () => {
  async function storedMarket(products: string, extra = '') {
    const dir = await tempDir()
    const file = join(dir, fileNameFor('m'))
    await writeFile(file, `{"format":1,"market":"m","revision":3,${extra}"products":${products}}`)
    const cache = await MarketCache.start({ dataDir: dir })
    return { cache, file, market: cache.market('m') }
  }

  it('loads a product whose id is __proto__ as an ordinary product and writes it back as one', async () => {
    const product = JSON.stringify(sample)
    const { cache, file, market } = await storedMarket(
      `{"__proto__":${product},"constructor":${product},"toString":${product}}`,
    )
    expect((await market.listProducts()).map(({ id }) => id)).toEqual(['__proto__', 'constructor', 'toString'])
    expect(await market.getProduct('__proto__')).toEqual(sample)
    expect(await market.adjustQuantity('__proto__', 1)).toBe(6)
    expect(await market.deleteProduct('constructor')).toBe(true)
    expect(await market.getProduct('hasOwnProperty')).toBeUndefined()
    await cache.close()
    const stored = JSON.parse(await readFile(file, 'utf8'))
    expect(Object.keys(stored.products)).toEqual(['__proto__', 'toString'])
    expect(Object.getOwnPropertyDescriptor(stored.products, '__proto__')?.value.quantity).toBe(6)
    expect(({} as Record<string, unknown>).quantity).toBeUndefined()
  })

  it('adds a product under the id __proto__ and finds it again after a restart', async () => {
    const dir = await tempDir()
    let cache = await MarketCache.start({ dataDir: dir, generateId: () => '__proto__' })
    expect(await cache.market('m').addProduct(sample)).toBe('__proto__')
    await cache.close()
    cache = await MarketCache.start({ dataDir: dir })
    expect(await cache.market('m').listProducts()).toEqual([{ id: '__proto__', ...sample }])
    await cache.close()
  })

  it('ignores a __proto__ key at the top level of a file without polluting any prototype', async () => {
    const { cache, market } = await storedMarket('{}', '"__proto__":{"polluted":true,"products":{"x":1}},')
    expect(await market.listProducts()).toEqual([])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    await cache.close()
  })

  it('rejects a stored product carrying a __proto__ key as CorruptDataError and leaves the file alone', async () => {
    const product = `{"__proto__":{"polluted":true},${JSON.stringify(sample).slice(1)}`
    const { cache, file, market } = await storedMarket(`{"p1":${product}}`)
    const before = await readFile(file, 'utf8')
    await expect(market.listProducts()).rejects.toBeInstanceOf(CorruptDataError)
    await expect(market.addProduct(sample)).rejects.toBeInstanceOf(CorruptDataError)
    expect(await readFile(file, 'utf8')).toBe(before)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    await cache.close()
  })
})

describe('stored files that break the snapshot rules', () => {
  it.each([
    ['a negative revision', '{"format":1,"market":"m","revision":-1,"products":{}}', 'revision'],
    ['a fractional revision', '{"format":1,"market":"m","revision":1.5,"products":{}}', 'revision'],
    ['a revision as a string', '{"format":1,"market":"m","revision":"3","products":{}}', 'revision'],
    ['products as an array', '{"format":1,"market":"m","revision":1,"products":[]}', 'products'],
    ['products as null', '{"format":1,"market":"m","revision":1,"products":null}', 'products'],
    [
      'a product with an empty id',
      `{"format":1,"market":"m","revision":1,"products":{"":${JSON.stringify(sample)}}}`,
      'empty id',
    ],
  ])(
    'rejects %s as CorruptDataError naming the problem, and never rewrites the file',
    async (_title, text, problem) => {
      const dir = await tempDir()
      const file = join(dir, fileNameFor('m'))
      await writeFile(file, text)
      const cache = await MarketCache.start({ dataDir: dir })
      const error = await cache
        .market('m')
        .addProduct(sample)
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CorruptDataError)
      expect((error as Error).message).toContain(problem)
      await cache.close()
      expect(await readFile(file, 'utf8')).toBe(text)
    },
  )
})

describe('messages and options under hostile input', () => {
  it('names at most five unknown keys, each cut to 40 characters, and counts the rest', async () => {
    const cache = await MarketCache.start({ database: new MemoryDatabase() })
    const keys = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, i]))
    const many = await cache
      .market('m')
      .addProduct({ ...sample, ...keys } as never)
      .catch((e: unknown) => e)
    expect((many as Error).message).toBe(
      'Unknown product field(s) `k0`, `k1`, `k2`, `k3`, `k4` and 3 more; expected name, quantity, expirationDate, price',
    )
    const long = await cache
      .market('m')
      .addProduct({ ...sample, [`${'a'.repeat(40)}b`]: 1, [`${'c'.repeat(40)}`]: 2 } as never)
      .catch((e: unknown) => e)
    expect((long as Error).message).toBe(
      `Unknown product field(s) \`${'a'.repeat(40)}…\`, \`${'c'.repeat(40)}\`; expected name, quantity, expirationDate, price`,
    )
    await cache.close()
  })

  it.each([
    [
      'a database without close',
      { database: { get: async () => undefined, store: async () => {}, markets: async () => [] } },
    ],
    ['a database that is null', { database: null }],
    ['a generateId that is not a function', { generateId: 'nanoid' }],
  ])('rejects %s at start with ValidationError', async (_title, options) => {
    await expect(MarketCache.start(options as never)).rejects.toBeInstanceOf(ValidationError)
  })

  it.each([
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"products"'],
  ])('rejects a market file holding %s as CorruptDataError', async (_title, text) => {
    const dir = await tempDir()
    await writeFile(join(dir, fileNameFor('m')), text)
    const cache = await MarketCache.start({ dataDir: dir })
    await expect(cache.market('m').listProducts()).rejects.toBeInstanceOf(CorruptDataError)
    await cache.close()
  })

  it('lists no market for a file whose stored name maps to another file', async () => {
    const dir = await tempDir()
    let cache = await MarketCache.start({ dataDir: dir })
    await cache.market('a').addProduct(sample)
    await cache.close()
    // A copy under another market's file name, as a careless restore would make.
    await writeFile(join(dir, fileNameFor('b')), await readFile(join(dir, fileNameFor('a')), 'utf8'))
    cache = await MarketCache.start({ dataDir: dir })
    expect(await cache.markets()).toEqual(['a'])
    await cache.close()
  })
})

describe('a stored file at revision 0', () => {
  it('loads as an empty market and continues from revision 1', async () => {
    const dir = await tempDir()
    const file = join(dir, fileNameFor('m'))
    await writeFile(file, '{"format":1,"market":"m","revision":0,"products":{}}')
    const cache = await MarketCache.start({ dataDir: dir })
    expect(await cache.market('m').listProducts()).toEqual([])
    await cache.market('m').addProduct(sample)
    await cache.close()
    expect(JSON.parse(await readFile(file, 'utf8')).revision).toBe(1)
  })
})
