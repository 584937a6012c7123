import type { ChildProcess } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { deferStopSignals } from '../src/cli/defer-signals.js'
import { isMarketFile } from '../src/file-database/file-names.js'
import { FileDatabase, MarketCache } from '../src/index.js'
import { bigDocument, cli, exists, expired, fileOf, fresh, seed, spawnCli } from './helpers/cli.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const LOCK_FILE = '.market-system.lock'

const children = new Set<ChildProcess>()
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  children.clear()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const marketFiles = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).filter(isMarketFile)

describe('market-system import', () => {
  const tempDir = useTempDirs()

  it('exports every market with ids and order, and imports it into an empty directory unchanged', async () => {
    const dir = await tempDir()
    await seed(dir)
    const exported = await cli(['export', '--data', dir])
    expect(exported.code).toBe(0)
    expect(JSON.parse(exported.stdout)).toEqual({
      format: 1,
      markets: [
        { name: 'Anna', products: [{ id: 'id-3', ...sample }] },
        {
          name: "Bob's list",
          products: [
            { id: 'id-1', ...expired },
            { id: 'id-2', ...fresh },
          ],
        },
      ],
    })
    const backup = join(await tempDir(), 'backup.json')
    await writeFile(backup, exported.stdout)
    const target = join(await tempDir(), 'restored')
    const imported = await cli(['import', backup, '--data', target])
    expect(imported.code).toBe(0)
    expect(imported.stdout).toContain('Imported 2 market(s), 3 product(s)')
    expect((await cli(['export', '--data', target])).stdout).toBe(exported.stdout)
    expect(await exists(join(target, LOCK_FILE))).toBe(false)
  })

  it('imports a document read from stdin when FILE is -', async () => {
    const target = await tempDir()
    const document = { format: 1, markets: [{ name: 'Piped', products: [{ id: 'a', ...sample }] }] }
    const result = await cli(['import', '-', '--data', target], JSON.stringify(document))
    expect(result.code).toBe(0)
    expect(JSON.parse((await cli(['export', '--data', target])).stdout)).toEqual(document)
  })

  it('refuses to overwrite an existing market without --replace, exits 7 and writes nothing', async () => {
    const dir = await tempDir()
    await seed(dir)
    const before = (await cli(['export', '--data', dir])).stdout
    const document = {
      format: 1,
      markets: [
        { name: 'New market', products: [{ id: 'n', ...sample }] },
        { name: 'Anna', products: [{ id: 'x', ...fresh }] },
      ],
    }
    const result = await cli(['import', '-', '--data', dir], JSON.stringify(document))
    expect(result.code).toBe(7)
    expect(result.stderr).toContain('"Anna"')
    expect(result.stderr).toContain('--replace')
    expect((await cli(['export', '--data', dir])).stdout).toBe(before)
  })

  it('replaces the products of an existing market with --replace, leaving other markets alone', async () => {
    const dir = await tempDir()
    await seed(dir)
    const document = {
      format: 1,
      markets: [
        {
          name: 'Anna',
          products: [
            { id: 'x', ...fresh },
            { id: 'id-3', ...expired },
          ],
        },
      ],
    }
    const result = await cli(['import', '-', '--replace', '--data', dir], JSON.stringify(document))
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('replaced "Anna": 2 product(s)')
    const after = JSON.parse((await cli(['export', '--data', dir])).stdout)
    expect(after.markets).toEqual([
      {
        name: 'Anna',
        products: [
          { id: 'x', ...fresh },
          { id: 'id-3', ...expired },
        ],
      },
      {
        name: "Bob's list",
        products: [
          { id: 'id-1', ...expired },
          { id: 'id-2', ...fresh },
        ],
      },
    ])
  })

  it('rejects an invalid document with exit 6, naming each problem by its path, and writes nothing', async () => {
    const target = join(await tempDir(), 'data')
    await mkdir(target)
    const document = {
      format: 1,
      markets: [
        { name: 'Ok', products: [{ id: 'a', ...sample }] },
        {
          name: 'Bad',
          products: [
            { id: 'b', ...sample, quantity: -1 },
            { id: 'b', ...sample, expirate_date: 'x' },
          ],
        },
      ],
    }
    const result = await cli(['import', '-', '--data', target], JSON.stringify(document))
    expect(result.code).toBe(6)
    expect(result.stderr).toContain('markets[1].products[0].quantity: Expected `quantity` to be a safe integer >= 0')
    expect(result.stderr).toContain('markets[1].products[1]: Unknown product field(s) `expirate_date`')
    expect(result.stderr).toContain('markets[1].products[1].id: Duplicate product id `b`')
    expect(await readdir(target)).toEqual([])
    expect((await cli(['import', '-', '--data', target], '{"format":1,')).code).toBe(6)
    const badName = { format: 1, markets: [{ name: 'tab\there', products: [] }] }
    const named = await cli(['import', '-', '--data', target], JSON.stringify(badName))
    expect(named.code).toBe(6)
    expect(named.stderr).toContain('markets[0].name')
  })

  it('exits 4 when the import file does not exist', async () => {
    const result = await cli(['import', join(await tempDir(), 'nope.json'), '--data', await tempDir()])
    expect(result.code).toBe(4)
    expect(result.stderr).toContain('nope.json` does not exist')
  })
})

describe('market-system import: all or nothing, ids as stored data holds them', () => {
  const tempDir = useTempDirs()
  const pear = { name: 'pear', quantity: 2, expirationDate: '2030-01-01', price: 2 }
  const apple = { ...pear, name: 'apple', quantity: 1, price: 1 }

  const exportOf = async (dir: string) => {
    const result = await cli(['export', '--data', dir])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    return result.stdout
  }

  it('imports every market of a document whose ids look like array indices, and a rerun writes nothing', async () => {
    // The review's import-index-id.sh: "7" used to pass validation, then addProduct refused it after "alpha" was written.
    const target = join(await tempDir(), 'data')
    const document = {
      format: 1,
      markets: [
        { name: 'alpha', products: [{ id: 'a1', ...apple }] },
        { name: 'beta', products: [{ id: '7', ...pear }] },
      ],
    }
    const first = await cli(['import', '-', '--data', target], JSON.stringify(document))
    expect(first).toMatchObject({ code: 0, stderr: '' })
    expect(first.stdout).toContain('Imported 2 market(s), 2 product(s)')
    expect(JSON.parse(await exportOf(target))).toEqual(document)
    const before = await readdir(target)

    const again = await cli(['import', '-', '--data', target], JSON.stringify(document))
    expect(again.code).toBe(7)
    expect(again.stderr).toContain('"alpha", "beta"')
    expect(JSON.parse(await exportOf(target))).toEqual(document)
    expect(await readdir(target)).toEqual(before)
  })

  it('round-trips a data directory whose stored ids look like array indices or are __proto__', async () => {
    // The review's roundtrip-index-id.mjs: valid stored data must come back through export and import.
    const source = await tempDir()
    const database = new FileDatabase({ dir: source })
    await database.store('beta', {
      format: 1,
      market: 'beta',
      revision: 3,
      products: JSON.parse(
        `{"x": ${JSON.stringify(apple)}, "7": ${JSON.stringify(pear)}, "__proto__": ${JSON.stringify(pear)}}`,
      ),
    })
    await database.close()
    const cache = await MarketCache.start({ dataDir: source })
    await cache.market('alpha').addProduct(apple)
    const stored = await cache.market('beta').listProducts()
    await cache.close()
    expect(stored.map(({ id }) => id)).toEqual(['7', 'x', '__proto__'])

    const exported = await exportOf(source)
    const target = join(await tempDir(), 'copy')
    const imported = await cli(['import', '-', '--data', target], exported)
    expect(imported).toMatchObject({ code: 0, stderr: '' })
    expect(await exportOf(target)).toBe(exported)
    const copy = await MarketCache.start({ dataDir: target })
    expect(await copy.market('beta').listProducts()).toEqual(stored)
    await copy.close()
  })

  it('imports a market with no products, so an exported empty market comes back', async () => {
    const source = await tempDir()
    const cache = await MarketCache.start({ dataDir: source })
    const id = await cache.market('emptied').addProduct(apple)
    await cache.market('emptied').deleteProduct(id)
    await cache.close()
    const exported = await exportOf(source)
    expect(JSON.parse(exported).markets).toEqual([{ name: 'emptied', products: [] }])

    const target = join(await tempDir(), 'copy')
    expect((await cli(['import', '-', '--data', target], exported)).code).toBe(0)
    expect(await cli(['markets', '--data', target])).toMatchObject({ code: 0, stdout: 'emptied\n' })
  })

  it('writes nothing when a market the document names is corrupt in the target, even with --replace', async () => {
    const dir = await tempDir()
    await seed(dir)
    const file = await fileOf(dir, 'anna-')
    const corrupt = '{"format":1,"market":"Anna","revision":1,"products":{"p":{"name":"x","quantity":-1}}}'
    await writeFile(file, corrupt)
    const files = await readdir(dir)
    const document = {
      format: 1,
      markets: [
        { name: 'New market', products: [{ id: 'n', ...sample }] },
        { name: 'Anna', products: [{ id: 'x', ...fresh }] },
      ],
    }
    const result = await cli(['import', '-', '--replace', '--data', dir], JSON.stringify(document))
    expect(result.code).toBe(5)
    expect(result.stderr).toContain(file)
    expect(await readFile(file, 'utf8')).toBe(corrupt)
    expect(await readdir(dir)).toEqual(files)
  })

  it('rejects a document with a market name the cache refuses (exit 6) before writing any market', async () => {
    const target = join(await tempDir(), 'data')
    const document = {
      format: 1,
      markets: [
        { name: 'fine', products: [{ id: 'a', ...sample }] },
        { name: 'x'.repeat(201), products: [] },
      ],
    }
    const result = await cli(['import', '-', '--data', target], JSON.stringify(document))
    expect(result.code).toBe(6)
    expect(result.stderr).toContain('markets[1].name: Expected `market name`')
    expect(await exists(target)).toBe(false)
  })
  it('refuses (exit 6, nothing written) an import file that is not UTF-8, instead of importing U+FFFD in its place', async () => {
    const dir = await tempDir()
    const file = join(dir, 'latin1.json')
    const target = join(dir, 'data')
    // "Café" saved as Latin-1 / Windows-1252: 0xE9 alone is no UTF-8, so this is no JSON text (RFC 8259, 8.1).
    const text = `{"format":1,"markets":[{"name":"Caf\u00e9","products":[{"id":"p","name":"Cr\u00e8me","quantity":1,"expirationDate":"2030-01-01","price":1}]}]}`
    await writeFile(file, Buffer.from(text, 'latin1'))
    for (const [source, input] of [
      [file, ''],
      ['-', Buffer.from(text, 'latin1')],
    ] as const) {
      const result = await cli(['import', source, '--data', target], input)
      expect(result.code).toBe(6)
      expect(result.stderr).toContain(`Import file \`${source}\` is not UTF-8 text`)
      expect(await exists(target)).toBe(false)
    }
    // The same document in UTF-8 imports, its characters intact.
    await writeFile(file, text)
    expect((await cli(['import', file, '--data', target])).code).toBe(0)
    expect(await cli(['markets', '--data', target])).toMatchObject({ code: 0, stdout: 'Caf\u00e9\n' })
  })

  it('finishes writing every market when interrupted (Ctrl-C) while it writes, then exits 130 saying so', async () => {
    const dir = await tempDir()
    const file = join(dir, 'big.json')
    const target = join(dir, 'data')
    const count = 2000
    await writeFile(file, bigDocument(count))
    const { child, done } = spawnCli(['import', file, '--data', target])
    children.add(child)
    const deadline = Date.now() + 50_000
    while ((await marketFiles(target)).length === 0 && child.exitCode === null && Date.now() < deadline) await sleep(5)
    child.kill('SIGINT')
    const result = await done
    expect(result.stderr).toContain('market-system import: SIGINT received: finishing the writes first')
    expect(result.stderr).toContain('Interrupted (SIGINT) after every market of the document was written.')
    expect(result.stdout).toContain(`Imported ${count} market(s)`)
    expect(result.code).toBe(130)
    expect(await marketFiles(target)).toHaveLength(count)
    // What a rerun finds: everything there, nothing to do.
    expect((await cli(['import', file, '--data', target])).code).toBe(7)
  })

  it('defers SIGINT and SIGTERM until released: the first is recorded, a second exits at once with 128 + its number', () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]
    const onFirst = vi.fn()
    const onSecond = vi.fn()
    const exit = vi.fn()
    const deferred = deferStopSignals({ onFirst, onSecond, exit })
    try {
      expect(deferred.signal).toBeUndefined()
      process.emit('SIGTERM', 'SIGTERM')
      expect(deferred.signal).toBe('SIGTERM')
      expect(onFirst).toHaveBeenCalledWith('SIGTERM')
      expect(exit).not.toHaveBeenCalled()
      process.emit('SIGINT', 'SIGINT')
      expect(onSecond).toHaveBeenCalledWith('SIGINT')
      expect(exit).toHaveBeenCalledWith(130)
      expect(deferred.signal).toBe('SIGTERM')
    } finally {
      deferred.release()
    }
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before)
    const again = deferStopSignals({ onFirst, onSecond, exit })
    process.emit('SIGINT', 'SIGINT')
    process.emit('SIGTERM', 'SIGTERM')
    again.release()
    expect(exit).toHaveBeenLastCalledWith(143)
  })
})
