import { type ChildProcess, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, afterEach, expect, it } from 'vitest'
import { FileDatabase, MarketCache } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { bigDocument, cli, expired, fresh, seed, spawnCli } from './helpers/cli.js'
import { describePostgres, postgresUrl } from './helpers/postgres-tables.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const TABLE = 'market_system_markets'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describePostgres('market-system on --database (PostgreSQL)', () => {
  const tempDir = useTempDirs()
  const schemas: string[] = []
  afterAll(async () => {
    for (const schema of schemas) await query(postgresUrl, `DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  })
  const children = new Set<ChildProcess>()
  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    children.clear()
  })

  /**
   * A URL whose search_path is a fresh schema: the CLI has no table option, so each test gets the default
   * table of its own, as a user separating environments by schema would.
   */
  async function freshUrl(): Promise<string> {
    const schema = `market_system_cli_${process.pid}_${Date.now().toString(36)}_${schemas.length}`
    schemas.push(schema)
    await query(postgresUrl, `CREATE SCHEMA ${schema}`)
    const url = new URL(postgresUrl)
    url.searchParams.set('options', `-c search_path=${schema}`)
    return url.toString()
  }

  async function query(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    const client = new pg.Client(url)
    await client.connect()
    try {
      return await client.query(text, values)
    } finally {
      await client.end()
    }
  }

  /** A data directory with every kind of id stored data may hold: nanoid-like, index-like, `__proto__`. */
  async function sourceDir(): Promise<string> {
    const dir = await tempDir()
    await seed(dir)
    const database = new FileDatabase({ dir })
    const products = JSON.parse(
      `{"x": ${JSON.stringify(fresh)}, "7": ${JSON.stringify(sample)}, "__proto__": ${JSON.stringify(expired)}}`,
    )
    await database.store('odd ids', { format: 1, market: 'odd ids', revision: 4, products })
    await database.close()
    return dir
  }

  it('moves a data directory into PostgreSQL with export | import -, keeping every market, id and order', async () => {
    const dir = await sourceDir()
    const url = await freshUrl()
    const exported = await cli(['export', '--data', dir])
    expect(exported.code).toBe(0)
    const imported = await cli(['import', '-', '--database', url], exported.stdout)
    expect(imported).toMatchObject({ code: 0, stderr: '' })
    expect(imported.stdout).toContain('Imported 3 market(s), 6 product(s)')

    expect(await cli(['export', '--database', url])).toEqual(exported)
    expect(await cli(['markets', '--database', url])).toMatchObject({
      code: 0,
      stdout: "Anna\nBob's list\nodd ids\n",
    })
    const shown = await cli(['show', 'odd ids', '--json', '--database', url])
    expect(JSON.parse(shown.stdout).products.map(({ id }: { id: string }) => id)).toEqual(['7', 'x', '__proto__'])

    // What a service on the same database sees: the rows the import wrote, loaded by the library.
    const cache = await MarketCache.start({ database: new PostgresDatabase({ connectionString: url }) })
    try {
      expect(await cache.market("Bob's list").listProducts()).toEqual([
        { id: 'id-1', ...expired },
        { id: 'id-2', ...fresh },
      ])
    } finally {
      await cache.close()
    }
  })

  it('refuses to overwrite a market in the database without --replace (exit 7, nothing written), then replaces it', async () => {
    const url = await freshUrl()
    const first = { format: 1, markets: [{ name: 'Anna', products: [{ id: 'a', ...sample }] }] }
    expect((await cli(['import', '-', '--database', url], JSON.stringify(first))).code).toBe(0)
    const second = {
      format: 1,
      markets: [
        { name: 'New', products: [{ id: 'n', ...fresh }] },
        { name: 'Anna', products: [{ id: 'b', ...fresh }] },
      ],
    }
    const refused = await cli(['import', '-', '--database', url], JSON.stringify(second))
    expect(refused.code).toBe(7)
    expect(refused.stderr).toContain('"Anna"')
    expect((await query(url, `SELECT name FROM ${TABLE}`)).rows).toEqual([{ name: 'Anna' }])

    const replaced = await cli(['import', '-', '--replace', '--database', url], JSON.stringify(second))
    expect(replaced.code).toBe(0)
    expect(JSON.parse((await cli(['export', '--database', url])).stdout).markets).toEqual([
      { name: 'Anna', products: [{ id: 'b', ...fresh }] },
      { name: 'New', products: [{ id: 'n', ...fresh }] },
    ])
    // The replace is one store past the stored revision, so a running instance sees a newer revision and reloads.
    const { rows } = await query(url, `SELECT revision FROM ${TABLE} WHERE name = 'Anna'`)
    expect(Number(rows[0]?.revision)).toBe(2)
  })

  it('reports a row that fails validation from show and export (exit 5, naming the row) and leaves it untouched', async () => {
    const url = await freshUrl()
    const document = {
      format: 1,
      markets: [
        { name: 'Anna', products: [{ id: 'a', ...sample }] },
        { name: 'Bob', products: [{ id: 'b', ...sample }] },
      ],
    }
    expect((await cli(['import', '-', '--database', url], JSON.stringify(document))).code).toBe(0)
    const corrupt = '{"format":1,"market":"Anna","revision":1,"products":{"p":{"name":"x","quantity":-1}}}'
    await query(url, `UPDATE ${TABLE} SET snapshot = $1 WHERE name = 'Anna'`, [corrupt])

    const shown = await cli(['show', 'Anna', '--database', url])
    expect(shown.code).toBe(5)
    expect(shown.stderr).toContain('row `Anna`')
    const exported = await cli(['export', '--database', url])
    expect(exported).toMatchObject({ code: 5, stdout: '' })
    expect(exported.stderr).toContain('row `Anna`')
    expect(exported.stderr).not.toContain('row `Bob`')
    // A row is keyed by its market's name, so the market is still listed: there is nothing unnamed to report.
    expect(await cli(['markets', '--database', url])).toMatchObject({ code: 0, stdout: 'Anna\nBob\n' })
    const { rows } = await query(url, `SELECT snapshot::text AS snapshot FROM ${TABLE} WHERE name = 'Anna'`)
    expect(rows[0]?.snapshot).toBe(corrupt)
  })

  it('exits 4 for a market the database does not hold, pointing at markets with the same --database', async () => {
    const url = await freshUrl()
    const result = await cli(['show', 'Nobody', '--database', url])
    expect(result.code).toBe(4)
    expect(result.stderr).toContain('Market `Nobody` not found')
    expect(result.stderr).toContain('market-system markets --database')
  })

  it('opens the REPL on the database; a change issued before input ends is stored', async () => {
    const url = await freshUrl()
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'repl', '--database', url], {
      cwd: root,
      env: { ...process.env, MARKET_SYSTEM_REPL_HISTORY: '' },
    })
    let output = ''
    const collect = (chunk: Buffer) => {
      output += chunk
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.stdin.end(`cache.market('from repl').addProduct(${JSON.stringify(sample)})\n`)
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect({ code, output }).toMatchObject({
      code: 0,
      output: expect.stringContaining('market-system REPL on postgres://'),
    })
    const cache = await MarketCache.start({ database: new PostgresDatabase({ connectionString: url }) })
    try {
      expect(await cache.market('from repl').listProducts()).toEqual([{ id: expect.any(String), ...sample }])
    } finally {
      await cache.close()
    }
  })
  it('accepts a libpq URL with a user and the host in its query (postgres://user@/db?host=...), as pg does', async () => {
    // The form libpq documents for Unix sockets and Cloud SQL (postgres://user:pw@/db?host=/cloudsql/...),
    // which the WHATWG URL parser refuses.
    const url = new URL(await freshUrl())
    const options = encodeURIComponent(url.searchParams.get('options') ?? '')
    const password = url.password ? `:${url.password}` : ''
    const libpq = `postgres://${url.username}${password}@${url.pathname}?host=${url.hostname}&port=${url.port}&options=${options}`
    expect(() => new URL(libpq)).toThrow()
    const document = JSON.stringify({ format: 1, markets: [{ name: 'Anna', products: [] }] })
    expect(await cli(['import', '-', '--database', libpq], document)).toMatchObject({ code: 0, stderr: '' })
    expect(await cli(['markets', '--database', libpq])).toMatchObject({ code: 0, stdout: 'Anna\n', stderr: '' })
  })

  it('markets and export report a row whose market name breaks the name rule (exit 5, naming the row), never printing it', async () => {
    const url = await freshUrl()
    const document = JSON.stringify({ format: 1, markets: [{ name: 'ok', products: [] }] })
    expect((await cli(['import', '-', '--database', url], document)).code).toBe(0)
    for (const market of ['evil\nname', '']) {
      await query(url, `INSERT INTO ${TABLE} (name, revision, snapshot, updated_at) VALUES ($1, 1, $2, now())`, [
        market,
        JSON.stringify({ format: 1, market, revision: 1, products: {} }),
      ])
    }
    const markets = await cli(['markets', '--database', url])
    expect(markets).toMatchObject({ code: 5, stdout: 'ok\n' })
    expect(markets.stderr).toContain(
      'row `"evil\\nname"`: names market "evil\\nname", which breaks the market-name rule',
    )
    expect(markets.stderr).toContain('row `""`')
    expect(markets.stderr).not.toContain('evil\nname')
    const exported = await cli(['export', '--database', url])
    expect(exported).toMatchObject({ code: 5, stdout: '' })
    expect(exported.stderr).toContain('row `"evil\\nname"`')
  })

  it('finishes writing every market when an import into PostgreSQL is interrupted (Ctrl-C) while it writes, then exits 130', async () => {
    const url = await freshUrl()
    const file = join(await tempDir(), 'big.json')
    const count = 2000
    await writeFile(file, bigDocument(count))
    const rows = async () => {
      try {
        return Number((await query(url, `SELECT count(*) AS n FROM ${TABLE}`)).rows[0].n)
      } catch {
        return 0 // the table is not there yet
      }
    }
    const { child, done } = spawnCli(['import', file, '--database', url])
    children.add(child)
    const deadline = Date.now() + 50_000
    while ((await rows()) === 0 && child.exitCode === null && Date.now() < deadline) await sleep(5)
    child.kill('SIGINT')
    const result = await done
    expect(result.stderr).toContain('SIGINT received: finishing the writes first')
    expect(result.code).toBe(130)
    expect(await rows()).toBe(count)
  })
})
