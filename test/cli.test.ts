import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MarketCache } from '../src/index.js'
import { cli, exists, expired, fileOf, fresh, seed } from './helpers/cli.js'
import { useTempDirs } from './helpers/temp-dir.js'

const LOCK_FILE = '.market-system.lock'

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

  it('ignores files the file backend would not name, and names a market file that holds another market', async () => {
    const dir = await tempDir()
    await seed(dir)
    const hash = 'a'.repeat(32)
    // Not a name FileDatabase produces (uppercase, space): it is no market's file, so it is not reported.
    await writeFile(join(dir, `Backup copy-${hash}.json`), 'not json')
    const stray = join(dir, `anna-${hash}.json`)
    await writeFile(stray, JSON.stringify({ format: 1, market: 'Anna', revision: 1, products: {} }))
    const result = await cli(['markets', '--data', dir])
    expect(result).toMatchObject({ code: 5, stdout: "Anna\nBob's list\n" })
    expect(result.stderr).toContain(`${stray}: names market \`Anna\`, which maps to another file`)
    expect(result.stderr).not.toContain('Backup copy')
  })

  it('exits 2 when both --data and --database are given, or --database is not a postgres:// URL', async () => {
    const dir = join(await tempDir(), 'never-created')
    for (const command of [['markets'], ['show', 'Anna'], ['export'], ['import', '-'], ['repl']]) {
      const both = await cli([...command, '--data', dir, '--database', 'postgres://127.0.0.1:1/x'])
      expect(both.code).toBe(2)
      expect(both.stderr).toContain('Give --data DIR or --database URL, not both')
      expect(both.stderr).toContain(`market-system ${command[0]} --help`)
    }
    const wrong = await cli(['markets', '--database', 'mysql://user:secret@host/db'])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('Expected --database to be a postgres:// or postgresql:// URL')
    expect(wrong.stderr).toContain('mysql://user:***@host/db')
    expect(wrong.stderr).not.toContain('secret')
    expect(await exists(dir)).toBe(false)
  })

  it('says `npm install pg` when --database is given and pg is not installed', async () => {
    // Loaded before the CLI: makes `pg` unresolvable, as in a project that never installed it.
    const hidePg = join(await tempDir(), 'hide-pg.cjs')
    await writeFile(
      hidePg,
      `const Module = require('node:module')
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (request === 'pg') throw Object.assign(new Error("Cannot find module 'pg'"), { code: 'MODULE_NOT_FOUND' })
  return resolve.call(this, request, ...rest)
}
`,
    )
    const result = await cli(['markets', '--database', 'postgres://127.0.0.1:1/x'], '', { preload: [hidePg] })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('npm install pg')
  })

  it('exits 1 naming the refused connection when the database server cannot be reached', async () => {
    // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    const result = await cli(['markets', '--database', 'postgres://user:secret@127.0.0.1:1/db'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('PersistenceError')
    expect(result.stderr).toContain('ECONNREFUSED')
    expect(result.stderr).not.toContain('secret')
  })
})
