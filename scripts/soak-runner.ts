import { type ChildProcess, spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { rng } from '../bench/data.js'
import { LOCK_FILE } from '../src/file-database/dir-lock.js'
import { isMarketFile, isTempFile } from '../src/file-database/file-names.js'
import { MarketCache, type Product } from '../src/index.js'
import { fromSnapshot } from '../src/snapshot.js'

const CHILD = fileURLToPath(new URL('../test/fixtures/soak-child.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('..', import.meta.url))

export interface SoakOptions {
  dir: string
  rounds: number
  seed: number
  log?: (line: string) => void
  /** Registers each child so a caller (a test's afterEach) can kill it if the soak is abandoned. */
  onChild?: (child: ChildProcess) => void
}

export interface SoakResult {
  rounds: number
  /** Acknowledged changes found on disk after the kill, summed over rounds. */
  verifiedChanges: number
  /** Rounds killed while operations were in flight (issued, not yet acknowledged). */
  killedMidBurst: number
  /** Rounds killed before the child reported its cache started. */
  killedBeforeReady: number
}

interface Op {
  s: number
  m: string
  k: 'add' | 'adj' | 'upd' | 'del'
  id: string
  p?: Product
  d?: number
}

interface MarketState {
  revision: number
  products: Map<string, Product>
}

function apply(products: Map<string, Product>, op: Op): void {
  if (op.k === 'add' || op.k === 'upd') products.set(op.id, op.p as Product)
  else if (op.k === 'del') products.delete(op.id)
  else {
    const product = products.get(op.id) as Product
    products.set(op.id, { ...product, quantity: product.quantity + (op.d as number) })
  }
}

/** Reads every market file; any file that is torn or invalid fails the soak. */
async function readDisk(dir: string): Promise<{ markets: Map<string, MarketState>; temps: string[] }> {
  const markets = new Map<string, MarketState>()
  const temps: string[] = []
  for (const name of await readdir(dir)) {
    if (isTempFile(name)) temps.push(name)
    if (!isMarketFile(name)) continue
    const text = await readFile(join(dir, name), 'utf8')
    let value: { market?: unknown }
    try {
      value = JSON.parse(text)
    } catch {
      throw new Error(`torn file ${name}: ${JSON.stringify(text.slice(0, 200))}`)
    }
    const state = fromSnapshot(value, String(value.market))
    if (typeof state === 'string') throw new Error(`invalid file ${name}: ${state}`)
    markets.set(String(value.market), state)
  }
  return { markets, temps }
}

const sameProducts = (a: Map<string, Product>, b: Map<string, Product>) =>
  JSON.stringify([...a]) === JSON.stringify([...b])

/**
 * Checks one market after a kill: the disk must hold the state after a prefix of the operations the
 * child called (the actor applies them in call order and stores whole snapshots), that prefix must
 * include every acknowledged operation, and the revision must have moved by exactly its length.
 */
function verifyMarket(
  market: string,
  before: MarketState,
  after: MarketState | undefined,
  ops: Op[],
  acked: Set<number>,
  durableRevision: number,
): number {
  const lastAcked = ops.reduce((last, op, index) => (acked.has(op.s) ? index : last), -1)
  if (after === undefined) {
    if (lastAcked >= 0 || before.revision > 0)
      throw new Error(`market ${market}: file missing after acknowledged changes`)
    return 0
  }
  if (after.revision < before.revision) {
    throw new Error(`market ${market}: revision went backwards from ${before.revision} to ${after.revision}`)
  }
  if (after.revision < durableRevision) {
    throw new Error(`market ${market}: revision ${after.revision} is behind the acknowledged ${durableRevision}`)
  }
  const length = after.revision - before.revision
  if (length <= lastAcked || length > ops.length) {
    throw new Error(
      `market ${market}: disk holds ${length} of ${ops.length} operations called, but operation ${lastAcked + 1} was acknowledged`,
    )
  }
  const expected = new Map(before.products)
  for (const op of ops.slice(0, length)) apply(expected, op)
  if (!sameProducts(expected, after.products)) {
    throw new Error(
      `market ${market}: products differ from the state after ${length} operations\nexpected ${JSON.stringify([...expected])}\nfound    ${JSON.stringify([...after.products])}`,
    )
  }
  return lastAcked + 1
}

interface RoundLog {
  ready: boolean
  ops: Op[]
  acked: Set<number>
  revisions: Map<string, number>
  exit: { code: number | null; signal: NodeJS.Signals | null }
  stderr: string
}

async function runChild(options: SoakOptions, round: number, random: () => number): Promise<RoundLog> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, options.dir, String(round), String(Math.floor(random() * 2 ** 32))],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  options.onChild?.(child)
  const log: RoundLog = {
    ready: false,
    ops: [],
    acked: new Set(),
    revisions: new Map(),
    exit: { code: null, signal: null },
    stderr: '',
  }
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      log.exit = { code, signal }
      resolve()
    }),
  )
  const kill = () => child.kill('SIGKILL')

  // How this round ends: before the cache starts, after a random delay, or on the n-th call (mid-burst).
  const mode = random()
  const early = mode < 0.1
  const onIssue = mode >= 0.1 && mode < 0.55 ? 1 + Math.floor(random() * 400) : undefined
  const delayMs = Math.floor(random() * 400)
  if (early) setTimeout(kill, Math.floor(random() * 600))

  let buffer = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    log.stderr += chunk.toString()
  })
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    const lines = buffer.split('\n')
    buffer = lines.pop() ?? ''
    for (const line of lines) {
      if (line === 'ready') {
        log.ready = true
        if (!early && onIssue === undefined) setTimeout(kill, delayMs)
      } else if (line.startsWith('I ')) {
        log.ops.push(JSON.parse(line.slice(2)) as Op)
        if (onIssue !== undefined && log.ops.length === onIssue) kill()
      } else if (line.startsWith('A ')) {
        log.acked.add(Number(line.slice(2)))
      } else if (line.startsWith('R ')) {
        const space = line.lastIndexOf(' ')
        const market = JSON.parse(line.slice(2, space)) as string
        log.revisions.set(market, Math.max(log.revisions.get(market) ?? 0, Number(line.slice(space + 1))))
      }
    }
  })
  // A child that never reaches its kill trigger (too few calls) is killed after a while anyway.
  const fallback = setTimeout(kill, 5_000)
  await exited
  clearTimeout(fallback)
  return log
}

/** Runs `rounds` crash rounds on `dir`, throwing on the first violated guarantee. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const random = rng(options.seed)
  const result: SoakResult = { rounds: 0, verifiedChanges: 0, killedMidBurst: 0, killedBeforeReady: 0 }
  let disk = (await readDisk(options.dir)).markets
  for (let round = 0; round < options.rounds; round++) {
    const log = await runChild(options, round, random)
    if (log.exit.signal !== 'SIGKILL') {
      throw new Error(`round ${round}: child exited by itself (${JSON.stringify(log.exit)}):\n${log.stderr}`)
    }
    if (!log.ready) result.killedBeforeReady++
    if (log.ops.some((op) => !log.acked.has(op.s))) result.killedMidBurst++
    if (log.ready && !(await readdir(options.dir)).includes(LOCK_FILE)) {
      throw new Error(`round ${round}: the killed child left no lock file, so no takeover was exercised`)
    }

    const next = await readDisk(options.dir)
    const markets = new Set([...disk.keys(), ...next.markets.keys(), ...log.ops.map((op) => op.m)])
    for (const market of markets) {
      const before = disk.get(market) ?? { revision: 0, products: new Map() }
      const ops = log.ops.filter((op) => op.m === market)
      result.verifiedChanges += verifyMarket(
        market,
        before,
        next.markets.get(market),
        ops,
        log.acked,
        log.revisions.get(market) ?? 0,
      )
    }
    disk = next.markets
    result.rounds++
    options.log?.(
      `round ${round}: ${log.ready ? '' : 'killed before ready, '}${log.ops.length} calls, ${log.acked.size} acknowledged, ${next.temps.length} temp files left`,
    )
  }

  // A last in-process start takes over the final stale lock, sees exactly what is on disk and leaves
  // only market files behind once closed.
  const cache = await MarketCache.start({ dataDir: options.dir })
  for (const [market, state] of disk) {
    const listed = await cache.market(market).listProducts()
    const expected = [...state.products].map(([id, product]) => ({ id, ...product }))
    if (JSON.stringify(listed) !== JSON.stringify(expected))
      throw new Error(`market ${market}: cache disagrees with disk`)
  }
  await cache.close()
  const leftovers = (await readdir(options.dir)).filter((name) => !isMarketFile(name))
  if (leftovers.length > 0) throw new Error(`after a clean close the directory still holds ${leftovers.join(', ')}`)
  return result
}
