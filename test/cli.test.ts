import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { CliError } from '../src/cli/cli-error.js'
import { quoted } from '../src/cli/printable.js'
import { closeWithin, storageOf } from '../src/cli/with-cache.js'
import { fileNameFor } from '../src/file-database/file-names.js'
import { FileDatabase, MarketCache } from '../src/index.js'
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
  it('never prints a --database password, also one holding "/", ":" or "@" that leaves the URL unparseable', async () => {
    // Generated passwords hold such characters; unencoded, the URL cannot be parsed, and the usage error quotes it.
    for (const [url, secret, shown] of [
      ['postgres://app:Zm9v/YmFy+cXV4@db.example.com/shop', 'Zm9v', 'postgres://app:***@db.example.com/shop'],
      ['postgres://app:Zm9v:YmFy@db.example.com:99999/shop', 'Zm9v', 'postgres://app:***@db.example.com:99999/shop'],
      ['postgres://app:a@b/c@db.example.com:99999/shop', 'a@b/c', 'postgres://app:***@db.example.com:99999/shop'],
      [
        'postgres://db.example.com:99999/shop?password=hunter2',
        'hunter2',
        'postgres://db.example.com:99999/shop?password=***',
      ],
      ['postgres://db.example.com/shop?sslmode=require&pass%77ord=hunter2&port=x', 'hunter2', 'pass%77ord=***&port=x'],
    ] as const) {
      const result = await cli(['markets', '--database', url])
      expect(result.code).toBe(2)
      expect(result.stderr).not.toContain(secret)
      expect(result.stderr).toContain(shown)
    }
  })

  it('refuses (exit 2, one message) a --database URL whose port pg cannot use, before connecting', async () => {
    for (const [url, port] of [
      ['postgres://127.0.0.1/db?port=abc', 'abc'],
      ['postgres://127.0.0.1:99999/db', '99999'],
      ['postgres://127.0.0.1:0/db', '0'],
      ['postgres://user@/db?host=/tmp&port=65536', '65536'],
    ] as const) {
      for (const args of [['markets'], ['import', '-']]) {
        const result = await cli([...args, '--database', url], '{"format":1,"markets":[]}')
        expect(result.code).toBe(2)
        expect(result.stderr).toContain(
          `market-system ${args[0]}: Expected the port of --database to be 1 to 65535, got \`${port}\``,
        )
      }
    }
  })

  it('markets and export report a stored market whose name breaks the name rule (exit 5, naming the file), never printing it', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir })
    await database.store('ok', { format: 1, market: 'ok', revision: 1, products: {} })
    await database.close()
    // Files a tool or an older version may have left: each at the very file its name maps to.
    for (const market of ['evil\nname', '']) {
      await writeFile(join(dir, fileNameFor(market)), JSON.stringify({ format: 1, market, revision: 1, products: {} }))
    }
    const markets = await cli(['markets', '--data', dir])
    expect(markets).toMatchObject({ code: 5, stdout: 'ok\n' })
    expect(markets.stderr).toContain(
      `${join(dir, fileNameFor('evil\nname'))}: names market "evil\\nname", which breaks`,
    )
    expect(markets.stderr).toContain(`${join(dir, fileNameFor(''))}: names market "", which breaks`)
    expect(markets.stderr).not.toContain('evil\nname')
    const exported = await cli(['export', '--data', dir])
    expect(exported).toMatchObject({ code: 5, stdout: '' })
    expect(exported.stderr).toContain(join(dir, fileNameFor('evil\nname')))
    expect(exported.stderr).not.toContain('evil\nname')
  })

  it('shows each product on one table row, a name or id holding a line break or terminal escape as a JSON string', async () => {
    const dir = await tempDir()
    const hostile = {
      id: 'id\n2',
      name: 'milk\nid-9  forged  1  2999-01-01  0\u001b[2J\u009b\u2028end',
      quantity: 1,
      expirationDate: '2999-01-01',
      price: 1,
    }
    const document = JSON.stringify({
      format: 1,
      markets: [{ name: 'm', products: [hostile, { id: 'plain', ...fresh }] }],
    })
    expect((await cli(['import', '-', '--data', dir], document)).code).toBe(0)
    const result = await cli(['show', 'm', '--data', dir])
    expect(result.code).toBe(0)
    // Title, blank line, header, and one row per product.
    const lines = result.stdout.trimEnd().split(/\r\n|[\n\r\u2028\u2029]/)
    expect(lines).toHaveLength(5)
    expect(result.stdout).not.toContain('\u001b')
    expect(result.stdout).not.toContain('\u009b')
    expect(lines[3]).toMatch(
      /^"id\\n2" +"milk\\nid-9 {2}forged {2}1 {2}2999-01-01 {2}0\\u001b\[2J\\u009b\\u2028end" +1/,
    )
    expect(lines[4]?.split(/\s{2,}/)).toEqual(['plain', 'milk', '12', '2999-12-31', '1.5'])
  })

  it('markets prints a name holding U+2028 or U+2029, or starting with ", as a JSON string, so each line is one name', async () => {
    const dir = await tempDir()
    const names = ['Anna\u2028Bob', 'Carl', 'Dora\u2029', '"quoted"', 'Eve\u202eevil']
    const document = JSON.stringify({ format: 1, markets: names.map((name) => ({ name, products: [] })) })
    expect((await cli(['import', '-', '--data', dir], document)).code).toBe(0)
    const result = await cli(['markets', '--data', dir])
    expect(result.code).toBe(0)
    // Line breaks as Unicode (UAX #14), Python's splitlines() and JavaScript's own line terminators read them.
    const lines = result.stdout.replace(/\n$/, '').split(/\r\n|[\n\r\u2028\u2029]/)
    expect(lines).toEqual([quoted('"quoted"'), '"Anna\\u2028Bob"', 'Carl', '"Dora\\u2029"', '"Eve\\u202eevil"'])
    expect(lines.map((line) => (line.startsWith('"') ? JSON.parse(line) : line)).sort()).toEqual([...names].sort())
  })

  it('exits 4 (data directory not found), with one message and no stack trace, when --data lies under a file or is one', async () => {
    const file = join(await tempDir(), 'backup.json')
    await writeFile(file, '{}')
    for (const command of [['markets'], ['export'], ['show', 'Anna']]) {
      const under = await cli([...command, '--data', join(file, 'persist')])
      expect(under.code).toBe(4)
      expect(under.stderr).toBe(
        `market-system ${command[0]}: Data directory \`${join(file, 'persist')}\` does not exist (use --data DIR to choose another).\n`,
      )
      const itself = await cli([...command, '--data', file])
      expect(itself.code).toBe(4)
      expect(itself.stderr).toContain(`Data directory \`${file}\` is not a directory`)
    }
  })

  it('show exits 2 (usage), with one message, for a MARKET no market can be named (empty, too long)', async () => {
    const dir = await tempDir()
    await seed(dir)
    for (const name of ['', 'x'.repeat(201)]) {
      const result = await cli(['show', name, '--data', dir])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/^market-system show: No market can be named "x*": Expected `market name`/)
      expect(result.stderr).not.toContain('    at ')
    }
  })
  it('gives up (exit 1) on a database close that never settles after 10 s on PostgreSQL or after a failed open, never on a data directory after work', async () => {
    vi.useFakeTimers()
    // Giving up also schedules an exit of the process, which the sockets left behind would otherwise hold.
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never)
    try {
      const never = () => new Promise<void>(() => {})
      const postgres = storageOf('markets', { database: 'postgres://shop:secret@db.example.com/stock' })
      const directory = storageOf('markets', { data: await tempDir() })
      const outcomes = [
        closeWithin(postgres, never, { failed: false }),
        closeWithin(directory, never, { failed: true }),
      ].map((closing) =>
        closing.then(
          () => 'closed',
          (error: unknown) => error,
        ),
      )
      let flushed = false
      void closeWithin(directory, never, { failed: false }).then(() => {
        flushed = true
      })
      await vi.advanceTimersByTimeAsync(9_999)
      await vi.advanceTimersByTimeAsync(1)
      for (const outcome of await Promise.all(outcomes)) {
        expect(outcome).toBeInstanceOf(CliError)
        expect(outcome).toMatchObject({
          exitCode: 1,
          message: expect.stringMatching(/^Could not close the connection to .* within 10 s/),
        })
      }
      expect((await outcomes[0]) as CliError).toMatchObject({
        message: expect.stringContaining('postgres://shop:***@db.example.com/stock'),
      })
      await vi.advanceTimersByTimeAsync(60_000)
      expect(flushed).toBe(false)
      expect(exit).toHaveBeenCalled()
      expect(await closeWithin(postgres, async () => {}, { failed: false })).toBeUndefined()
    } finally {
      exit.mockRestore()
      vi.useRealTimers()
    }
  })
})
