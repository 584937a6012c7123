import { spawn } from 'node:child_process'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { MarketCache } from '../src/index.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const LOCK_FILE = '.market-system.lock'

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `market-system ...args` from source, as `npm run repl` does, with `input` on stdin. */
function cli(args: string[], input = ''): Promise<Result> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk
  })
  child.stdin.end(input)
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

const expired = { name: 'linguissa', quantity: 5, expirationDate: '2000-01-01', price: 23.45 }
const fresh = { name: 'milk', quantity: 12, expirationDate: '2999-12-31', price: 1.5 }

/** Seeds `dir` with two markets and deterministic ids. */
async function seed(dir: string): Promise<void> {
  let next = 0
  const cache = await MarketCache.start({ dataDir: dir, generateId: () => `id-${++next}` })
  await cache.market("Bob's list").addProduct(expired)
  await cache.market("Bob's list").addProduct(fresh)
  await cache.market('Anna').addProduct(sample)
  await cache.close()
}

const fileOf = async (dir: string, prefix: string) =>
  join(dir, (await readdir(dir)).find((name) => name.startsWith(prefix)) as string)

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  )

describe('market-system CLI', () => {
  const tempDir = useTempDirs()

  it('prints an overview naming every command on --help and exits 0', async () => {
    const result = await cli(['--help'])
    expect(result.code).toBe(0)
    for (const command of ['markets', 'show', 'export', 'import', 'repl'])
      expect(result.stdout).toContain(`  ${command} `)
  })

  it('exits 2 with the overview on stderr when no command or an unknown command is given', async () => {
    const none = await cli([])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('Usage: market-system <command>')
    const unknown = await cli(['lsit'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command `lsit`')
  })

  it.each(['markets', 'show', 'export', 'import', 'repl'])(
    'prints the usage of `%s` on --help, exits 0 and touches no data directory',
    async (command) => {
      const dir = join(await tempDir(), 'never-created')
      const result = await cli([command, '--help', '--data', dir])
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(new RegExp(`^Usage: market-system ${command}`))
      expect(await exists(dir)).toBe(false)
      expect(await cli(['help', command])).toEqual(result)
    },
  )

  it('rejects an unknown option with exit code 2 and points at the command help', async () => {
    const result = await cli(['show', "Bob's list", '--jsno'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("Unknown option '--jsno'")
    expect(result.stderr).toContain('market-system show --help')
  })

  it('lists every stored market, one per line, sorted, and leaves no lock file behind', async () => {
    const dir = await tempDir()
    await seed(dir)
    const result = await cli(['markets', '--data', dir])
    expect(result).toMatchObject({ code: 0, stdout: "Anna\nBob's list\n" })
    expect(await exists(join(dir, LOCK_FILE))).toBe(false)
  })

  it('exits 4 when the data directory does not exist, without creating it', async () => {
    const dir = join(await tempDir(), 'typo')
    for (const command of [['markets'], ['show', 'Anna'], ['export']]) {
      const result = await cli([...command, '--data', dir])
      expect(result.code).toBe(4)
      expect(result.stderr).toContain(`Data directory \`${dir}\` does not exist`)
    }
    expect(await exists(dir)).toBe(false)
  })

  it('shows a market as a table in insertion order, marking expired products', async () => {
    const dir = await tempDir()
    await seed(dir)
    const result = await cli(['show', "Bob's list", '--data', dir])
    expect(result.code).toBe(0)
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^Market "Bob's list": 2 product\(s\), 1 expired as of \d{4}-\d{2}-\d{2}$/)
    expect(lines[2]?.split(/\s{2,}/)).toEqual(['id', 'name', 'quantity', 'expirationDate', 'price'])
    expect(lines[3]?.split(/\s{2,}/)).toEqual(['id-1', 'linguissa', '5', '2000-01-01 (expired)', '23.45'])
    expect(lines[4]?.split(/\s{2,}/)).toEqual(['id-2', 'milk', '12', '2999-12-31', '1.5'])
  })

  it('shows a market as JSON with an expired flag per product on --json', async () => {
    const dir = await tempDir()
    await seed(dir)
    const result = await cli(['show', "Bob's list", '--json', '--data', dir])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({
      market: "Bob's list",
      today: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      products: [
        { id: 'id-1', ...expired, expired: true },
        { id: 'id-2', ...fresh, expired: false },
      ],
    })
  })

  it('exits 4 for a market that does not exist, and exits 2 when MARKET is missing', async () => {
    const dir = await tempDir()
    await seed(dir)
    const missing = await cli(['show', 'Bobs list', '--data', dir])
    expect(missing.code).toBe(4)
    expect(missing.stderr).toContain('Market `Bobs list` not found')
    expect((await cli(['show', '--data', dir])).code).toBe(2)
  })

  it('exits 5 naming the file when a market file is corrupt, and leaves it byte for byte', async () => {
    const dir = await tempDir()
    await seed(dir)
    const file = await fileOf(dir, 'anna-')
    const corrupt = '{"format":1,"market":"Anna","revision":1,"products":{"p":{"name":"x","quantity":-1}}}'
    await writeFile(file, corrupt)
    const result = await cli(['show', 'Anna', '--data', dir])
    expect(result.code).toBe(5)
    expect(result.stderr).toContain(file)
    expect(await readFile(file, 'utf8')).toBe(corrupt)
    const exported = await cli(['export', '--data', dir])
    expect(exported).toMatchObject({ code: 5, stdout: '' })
  })

  it('reports a market file that is not JSON from markets (after the readable ones) and export, exiting 5', async () => {
    const dir = await tempDir()
    await seed(dir)
    const file = await fileOf(dir, 'anna-')
    await writeFile(file, '{"format":1,')
    const markets = await cli(['markets', '--data', dir])
    expect(markets).toMatchObject({ code: 5, stdout: "Bob's list\n" })
    expect(markets.stderr).toContain(`${file}: not valid JSON`)
    const exported = await cli(['export', '--data', dir])
    expect(exported).toMatchObject({ code: 5, stdout: '' })
    expect(exported.stderr).toContain(file)
  })

  it('exits 3 when another process holds the data directory', async () => {
    const dir = await tempDir()
    await seed(dir)
    const holder = await MarketCache.start({ dataDir: dir })
    try {
      for (const command of [['markets'], ['show', 'Anna'], ['export'], ['import', '-']]) {
        const result = await cli([...command, '--data', dir], '{"format":1,"markets":[]}')
        expect(result.code).toBe(3)
        expect(result.stderr).toContain(`is locked by process ${process.pid}`)
      }
    } finally {
      await holder.close()
    }
  })

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
