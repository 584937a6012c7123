// The server goes away: stopped, refusing, dropping connections, or frozen. Each case runs on a throwaway
// server of this file's own, so stopping it disturbs no other suite.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { MarketCache, PersistenceError } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { findPostgresBinaries, type PostgresServer, startPostgresServer } from './helpers/postgres-server.js'
import { describePostgres } from './helpers/postgres-tables.js'
import { sample } from './helpers/temp-dir.js'

const TIMEOUTS = { connectionTimeoutMs: 1000, queryTimeoutMs: 1000 }
/** Far above the 2 s a call may take by its timeouts, far below a hang (the test timeout). */
const BOUND_MS = 8000

let server: PostgresServer
beforeAll(async () => {
  if (findPostgresBinaries()) server = await startPostgresServer()
})
afterAll(() => server?.destroy())

/** Polls on a timer (these waits are on other processes, not on this event loop). */
async function until(predicate: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (predicate()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const describeOutage = findPostgresBinaries() ? describePostgres : describePostgres.skip

async function storedQuantity(market: string, id: string): Promise<number> {
  const client = new pg.Client(server.url)
  await client.connect()
  const { rows } = await client.query('SELECT snapshot::text AS s FROM market_system_markets WHERE name = $1', [market])
  await client.end()
  return JSON.parse(rows[0].s).products[id].quantity
}

describeOutage('PostgresDatabase when the server goes away', () => {
  it('rejects calls with PersistenceError within the timeouts while the server is down, and works again once it is back', async () => {
    const cache = await MarketCache.start({
      database: new PostgresDatabase({ connectionString: server.url, ...TIMEOUTS }),
    })
    const market = cache.market('burst')
    const id = await market.addProduct({ ...sample, quantity: 100_000 })
    let acknowledged = 0
    let stopped = false
    const failures: { error: unknown; ms: number }[] = []
    const seller = async () => {
      for (;;) {
        const started = performance.now()
        try {
          await market.adjustQuantity(id, -1)
          acknowledged++
        } catch (error) {
          failures.push({ error, ms: performance.now() - started })
          if (stopped) return
        }
      }
    }
    const sellers = Array.from({ length: 6 }, seller)
    await until(() => acknowledged >= 60, 'sales before the stop')
    server.stop('immediate')
    stopped = true
    await Promise.all(sellers)
    expect(failures.length).toBeGreaterThanOrEqual(6)
    for (const { error, ms } of failures) {
      expect(error).toBeInstanceOf(PersistenceError)
      expect(ms).toBeLessThan(BOUND_MS)
    }
    // Still down: a fresh call rejects too, promptly.
    await expect(market.getProduct(id)).rejects.toBeInstanceOf(PersistenceError)
    server.start()
    for (let i = 0; i < 20; i++) {
      await market.adjustQuantity(id, -1)
      acknowledged++
    }
    const stored = await storedQuantity('burst', id)
    // A store whose connection died mid-statement may have committed: at most one per failed call.
    expect(stored).toBeLessThanOrEqual(100_000 - acknowledged)
    expect(stored).toBeGreaterThanOrEqual(100_000 - acknowledged - failures.length)
    expect((await market.getProduct(id))?.quantity).toBe(stored)
    await cache.close()
  })

  it('survives idle pooled connections dropped by a server stop (no unhandled pool error)', async () => {
    const entry = fileURLToPath(new URL('../src/postgres.ts', import.meta.url))
    const script = `
      import { PostgresDatabase } from ${JSON.stringify(entry)}
      const database = new PostgresDatabase({ connectionString: ${JSON.stringify(server.url)}, max: 4 })
      await Promise.all(Array.from({ length: 4 }, () => database.markets()))
      console.log('idle')
      process.stdin.once('data', async () => {
        process.stdin.destroy()
        await database.markets().catch(() => {})
        await database.markets()
        console.log('alive')
        await database.close()
      })
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      await until(() => stdout.includes('idle') || child.exitCode !== null, 'the child to pool its connections')
      server.stop('immediate')
      // The pool learns of the dropped sockets on the event loop: wait a second so every `error` fires.
      await new Promise((resolve) => setTimeout(resolve, 1000))
      expect(child.exitCode).toBeNull()
      server.start()
      child.stdin.end('go\n')
      expect(await exited).toBe(0)
      expect(stdout).toContain('alive')
      expect(stderr).not.toMatch(/Error/)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('rejects calls within the timeouts while the server is frozen, and after it thaws memory equals the database', async () => {
    const cache = await MarketCache.start({
      database: new PostgresDatabase({ connectionString: server.url, ...TIMEOUTS }),
    })
    const market = cache.market('frozen')
    const id = await market.addProduct({ ...sample, quantity: 50 })
    server.freeze()
    try {
      const started = performance.now()
      const calls = await Promise.allSettled([
        market.adjustQuantity(id, -1),
        market.adjustQuantity(id, -2),
        market.getProduct(id),
      ])
      expect(performance.now() - started).toBeLessThan(BOUND_MS)
      for (const call of calls) {
        expect(call.status).toBe('rejected')
        expect((call as PromiseRejectedResult).reason).toBeInstanceOf(PersistenceError)
      }
    } finally {
      server.thaw()
    }
    // The frozen backend may still commit the timed-out store once it runs again: wait until no other
    // session is left working, then compare.
    const admin = new pg.Client(server.url)
    await admin.connect()
    for (;;) {
      const { rows } = await admin.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle'",
      )
      if (rows[0].n === 0) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await admin.end()
    const stored = await storedQuantity('frozen', id)
    expect([47, 49, 50]).toContain(stored)
    expect((await market.getProduct(id))?.quantity).toBe(stored)
    expect(await market.adjustQuantity(id, -1)).toBe(stored - 1)
    await cache.close()
  })
})
