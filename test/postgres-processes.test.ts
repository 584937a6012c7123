// Real processes on one PostgreSQL: each child is an instance with its own MarketCache and PostgresDatabase.
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { MarketCache } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { useChildCleanup } from './helpers/child.js'
import { describePostgres, postgresUrl, usePostgresTables } from './helpers/postgres-tables.js'
import { sample } from './helpers/temp-dir.js'

const table = usePostgresTables()
const children = useChildCleanup()
const seller = fileURLToPath(new URL('./helpers/postgres-seller.ts', import.meta.url))

interface Seller {
  process: ChildProcess
  lines: string[]
  exited: Promise<number | null>
}

function startSeller(name: string, ids: string[]): Seller {
  const child = spawn(process.execPath, ['--import', 'tsx', seller, postgresUrl, name, 'shop', '4', ...ids], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  children.push(child)
  const lines: string[] = []
  let buffer = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk
    const parts = buffer.split('\n')
    buffer = parts.pop() ?? ''
    lines.push(...parts)
  })
  return { process: child, lines, exited: new Promise((resolve) => child.once('exit', resolve)) }
}

/** Polls on a timer: the condition is about other processes. */
async function until(predicate: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (predicate()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const count = (lines: string[], line: string) => lines.filter((each) => each === line).length

describePostgres('Processes on one PostgreSQL', () => {
  it('keeps every acknowledged sale and never oversells when one of three selling processes is killed mid-burst', async () => {
    const name = await table()
    const setup = await MarketCache.start({
      database: new PostgresDatabase({ connectionString: postgresUrl, table: name }),
    })
    const plenty = await setup.market('shop').addProduct({ ...sample, name: 'plenty', quantity: 1_000_000 })
    const scarce = await setup.market('shop').addProduct({ ...sample, name: 'scarce', quantity: 60 })
    const sellers = [0, 1, 2].map(() => startSeller(name, [plenty, scarce]))
    const [victim, ...survivors] = sellers as [Seller, Seller, Seller]
    await until(() => count(victim.lines, `sold ${plenty}`) >= 30, 'the victim to sell')
    victim.process.kill('SIGKILL')
    expect(await victim.exited).toBeNull()
    // The survivors keep selling: each acknowledges 40 more sales after the kill, with no lease to wait for.
    const atKill = survivors.map((survivor) => count(survivor.lines, `sold ${plenty}`))
    await until(
      () => survivors.every((survivor, i) => count(survivor.lines, `sold ${plenty}`) >= (atKill[i] as number) + 40),
      'the survivors to keep selling',
    )
    for (const survivor of survivors) survivor.process.stdin?.end('stop\n')
    expect(await Promise.all(survivors.map((survivor) => survivor.exited))).toEqual([0, 0])

    const acknowledged = (id: string) => sellers.reduce((sum, each) => sum + count(each.lines, `sold ${id}`), 0)
    const products = new Map((await setup.market('shop').listProducts()).map(({ id, quantity }) => [id, quantity]))
    await setup.close()
    for (const [id, initial] of [
      [plenty, 1_000_000],
      [scarce, 60],
    ] as const) {
      const sold = initial - (products.get(id) as number)
      // Every acknowledged sale is stored; beyond them at most the victim's 4 calls in flight, whose outcome it never saw.
      expect(sold).toBeGreaterThanOrEqual(acknowledged(id))
      expect(sold).toBeLessThanOrEqual(acknowledged(id) + 4)
    }
    expect(products.get(scarce)).toBeGreaterThanOrEqual(0)
    expect(acknowledged(scarce)).toBeLessThanOrEqual(60)
    // Three processes hammering one market: an instance that loses twice in a row takes the market's lock, so
    // no call exhausts the conflict bound, and nothing else fails.
    for (const survivor of survivors) expect(survivor.lines.filter((line) => line.startsWith('error'))).toEqual([])
  })
})
