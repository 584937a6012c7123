/**
 * Runs one (scenario, system) pair in its own process, so RSS and heap state are honest and no
 * system inherits another's garbage, worker threads or page-cache pressure. Prints one JSON line.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileNameFor } from '../src/file-database/file-names.js'
import { marketName, pickOp, product, rng, type SeedMarket, seedMarket, snapshotJson } from './data.js'
import { parallelDurableReplace } from './parallel-limit.js'
import {
  DURABLE_WRITE_LIMIT,
  DURABLE_WRITE_LIMIT_PARALLEL,
  durableReplaceLoop,
  PARALLEL_WRITERS,
  type Store,
  systems,
} from './systems.js'

export interface RunRequest {
  scenario: string
  system: string
  markets: number
  products: number
  clientsPerMarket: number
  durationMs: number
  /** many-markets only: touch every market once instead of running for a duration. */
  touchAll?: boolean
  idleTimeoutMs?: number
}

export interface Row {
  scenario: string
  system: string
  ops: number
  opsPerSec: number
  p50Ms: number
  p99Ms: number
  rssMb: number
  storesPerOp?: number
  bytesPerOp?: number
  touchSeconds?: number
  rssAfterIdleMb?: number
  /** Filled in by main.ts: ops/s of every round, the row itself being the median one. */
  roundsOpsPerSec?: number[]
}

const request = JSON.parse(process.argv[2] as string) as RunRequest

function ioCounters(): { wchar: number } {
  try {
    const text = readFileSync('/proc/self/io', 'utf8')
    return { wchar: Number(/wchar: (\d+)/.exec(text)?.[1] ?? Number.NaN) }
  } catch {
    return { wchar: Number.NaN }
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits
const mb = (bytes: number) => round(bytes / 2 ** 20, 1)
const peakRss = () => (process.resourceUsage().maxRSS * 1024) as number

function* markets(): Generator<SeedMarket> {
  for (let i = 0; i < request.markets; i++) yield seedMarket(marketName(i), request.products)
}

async function clientLoop(store: Store, market: SeedMarket, seed: number, until: number, latencies: number[]) {
  const random = rng(seed)
  const sequential = request.scenario === 'sequential'
  while (performance.now() < until) {
    const kind = sequential ? 'adjust' : pickOp(random)
    const id = market.ids[Math.floor(random() * market.ids.length)] as string
    const started = performance.now()
    if (kind === 'adjust') await store.adjust(market.name, id, random() < 0.5 ? -1 : 2)
    else if (kind === 'get') await store.get(market.name, id)
    else if (kind === 'add') await store.add(market.name, product(Math.floor(random() * 1e6)))
    else await store.update(market.name, id, product(Math.floor(random() * 1e6)))
    latencies.push(performance.now() - started)
  }
}

function summarize(latencies: number[], elapsedMs: number, extra: Partial<Row>): Row {
  const sorted = Float64Array.from(latencies).sort()
  return {
    scenario: request.scenario,
    system: request.system,
    ops: latencies.length,
    opsPerSec: round((latencies.length / elapsedMs) * 1000, 0),
    p50Ms: round(percentile(sorted, 0.5), 3),
    p99Ms: round(percentile(sorted, 0.99), 3),
    rssMb: mb(peakRss()),
    ...extra,
  }
}

/**
 * many-markets: every market's file (seeded like the others') replaced once, shared among the writers.
 * Other scenarios: each writer replaces a file of its own for the round's duration.
 */
async function parallelLimit(dir: string): Promise<Row> {
  const bytes = new TextEncoder().encode(snapshotJson(seedMarket(marketName(0), request.products)))
  const fileNames = Array.from({ length: request.touchAll ? request.markets : PARALLEL_WRITERS }, (_, i) =>
    fileNameFor(marketName(i)),
  )
  for (const fileName of fileNames) writeFileSync(join(dir, fileName), bytes)
  execFileSync('sync')
  const before = ioCounters()
  const { latencies, elapsedMs } = await parallelDurableReplace(dir, fileNames, bytes, {
    writers: PARALLEL_WRITERS,
    ...(request.touchAll ? { once: true } : { once: false, durationMs: request.durationMs }),
  })
  return summarize(latencies, elapsedMs, {
    storesPerOp: 1,
    bytesPerOp: round((ioCounters().wchar - before.wchar) / latencies.length, 0),
    ...(request.touchAll ? { touchSeconds: round(elapsedMs / 1000, 2) } : {}),
  })
}

async function run(dir: string): Promise<Row | undefined> {
  if (request.system === DURABLE_WRITE_LIMIT) {
    if (request.touchAll) return undefined
    const market = seedMarket(marketName(0), request.products)
    const bytes = new TextEncoder().encode(snapshotJson(market))
    const before = ioCounters()
    const started = performance.now()
    const latencies = durableReplaceLoop(dir, fileNameFor(market.name), bytes, started + request.durationMs)
    const elapsed = performance.now() - started
    return summarize(latencies, elapsed, {
      storesPerOp: 1,
      bytesPerOp: round((ioCounters().wchar - before.wchar) / latencies.length, 0),
    })
  }
  if (request.system === DURABLE_WRITE_LIMIT_PARALLEL) return parallelLimit(dir)
  const system = systems.find((candidate) => candidate.name === request.system)
  if (!system) throw new Error(`unknown system ${request.system}`)
  system.seed(dir, markets())
  // Seed data must not be flushed by the first measured fsync.
  execFileSync('sync')
  globalThis.gc?.()
  const store = await system.open(dir, request.idleTimeoutMs ? { idleTimeoutMs: request.idleTimeoutMs } : {})
  const latencies: number[] = []
  let row: Row
  if (request.touchAll) {
    const id = seedMarket(marketName(0), 1).ids[0] as string
    let next = 0
    const started = performance.now()
    const worker = async () => {
      while (next < request.markets) {
        const name = marketName(next++)
        const t = performance.now()
        await store.adjust(name, id, 1)
        latencies.push(performance.now() - t)
      }
    }
    await Promise.all(Array.from({ length: 100 }, worker))
    const elapsed = performance.now() - started
    const peak = peakRss()
    await store.release()
    // V8 hands freed pages back to the OS a few seconds after a GC (its memory reducer), not at once.
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.()
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    row = summarize(latencies, elapsed, {
      touchSeconds: round(elapsed / 1000, 2),
      rssMb: mb(peak),
      rssAfterIdleMb: mb(process.memoryUsage.rss()),
    })
  } else {
    const all = [...markets()]
    // Warm-up: every market loaded, so the timed part measures steady state.
    await Promise.all(all.map((market) => store.get(market.name, market.ids[0] as string)))
    const storesBefore = store.stores()
    const before = ioCounters()
    const started = performance.now()
    const until = started + request.durationMs
    await Promise.all(
      all.flatMap((market, m) =>
        Array.from({ length: request.clientsPerMarket }, (_, c) =>
          clientLoop(store, market, 1 + m * 1000 + c, until, latencies),
        ),
      ),
    )
    const elapsed = performance.now() - started
    const stores = store.stores()
    row = summarize(latencies, elapsed, {
      ...(stores === undefined || storesBefore === undefined
        ? {}
        : { storesPerOp: round((stores - storesBefore) / latencies.length, 3) }),
      bytesPerOp: round((ioCounters().wchar - before.wchar) / latencies.length, 0),
    })
  }
  await store.close()
  return row
}

const dir = mkdtempSync(join(tmpdir(), `market-bench-${request.system}-`))
try {
  const row = await run(dir)
  process.stdout.write(`RESULT ${JSON.stringify(row ?? null)}\n`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
