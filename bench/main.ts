/**
 * `npm run bench [-- --quick] [--json FILE] [--only scenario,...] [--systems name,...]`
 *
 * Runs every (scenario, system) pair in a child process of its own, on a fresh temp dir, and
 * prints a table, the ratios of market-system to each alternative, the targets and the machine.
 */
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { postgresSystems } from './postgres-systems.js'
import type { Row, RunRequest } from './run-one.js'
import { DURABLE_WRITE_LIMIT_PARALLEL, systemNames } from './systems.js'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const option = (name: string) => {
  const index = args.indexOf(name)
  return index === -1 ? undefined : args[index + 1]
}
const jsonFile = option('--json')
const only = option('--only')?.split(',')
const onlySystems = option('--systems')?.split(',') ?? systemNames

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

interface Scenario {
  name: string
  /** `durationMs` is per round; the systems take turns round by round (see `rounds`). */
  request: Omit<RunRequest, 'scenario' | 'system'>
  rounds: number
  /** Systems run in --quick (default: all). */
  quickSystems?: string[]
  /** Whether `durable-write-limit-parallel` runs: only where many markets write at once. */
  parallelLimit?: boolean
}

const seconds = (quickSeconds: number, fullSeconds: number) => (quick ? quickSeconds : fullSeconds) * 1000
/**
 * The machines this runs on are shared: disk and CPU contention from other jobs comes in bursts of
 * seconds. Short rounds, with the systems taking turns in a rotating order, expose every system to
 * the same bursts; each system's reported row is its median round.
 */
const rounds = quick ? 3 : 5

const scenarios: Scenario[] = [
  {
    name: 'sequential',
    rounds,
    request: { markets: 1, products: 100, clientsPerMarket: 1, durationMs: seconds(1, 3) },
  },
  {
    name: 'concurrent',
    rounds,
    parallelLimit: true,
    request: { markets: 100, products: 100, clientsPerMarket: 10, durationMs: seconds(1.2, 4) },
  },
  {
    name: 'large-market-10k',
    rounds,
    request: { markets: 1, products: 10_000, clientsPerMarket: 100, durationMs: seconds(1, 4) },
  },
  ...(quick
    ? []
    : [
        {
          name: 'large-market-100k',
          rounds: 3,
          request: { markets: 1, products: 100_000, clientsPerMarket: 100, durationMs: seconds(5, 5) },
        },
      ]),
  {
    name: 'many-markets',
    rounds: 1,
    parallelLimit: true,
    // Each of these takes 5 to 15 s; the quick run keeps market-system and the three it is compared with.
    quickSystems: ['market-system', 'lowdb', 'sqlite-full', DURABLE_WRITE_LIMIT_PARALLEL],
    request: {
      markets: 10_000,
      products: 100,
      clientsPerMarket: 1,
      durationMs: 0,
      touchAll: true,
      idleTimeoutMs: 1000,
    },
  },
]

function fileSystemType(path: string): string {
  try {
    return execFileSync('stat', ['-f', '-c', '%T', path], { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

function mountType(path: string): string {
  try {
    const output = execFileSync('df', ['--output=source,fstype', path], { encoding: 'utf8' }).trim().split('\n')
    return output[1]?.replace(/\s+/g, ' ') ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

function runOne(request: RunRequest): Promise<Row | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join(root, 'bench', 'run-one.ts'), JSON.stringify(request)],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      const line = output.split('\n').find((text) => text.startsWith('RESULT '))
      if (code !== 0 || !line) return reject(new Error(`${request.scenario}/${request.system} exited with ${code}`))
      resolve((JSON.parse(line.slice('RESULT '.length)) as Row | null) ?? undefined)
    })
  })
}

const columns: [string, (row: Row) => string][] = [
  ['system', (row) => row.system],
  ['ops', (row) => String(row.ops)],
  ['ops/s', (row) => String(row.opsPerSec)],
  ['p50 ms', (row) => row.p50Ms.toFixed(2)],
  ['p99 ms', (row) => row.p99Ms.toFixed(2)],
  ['peak RSS MB', (row) => String(row.rssMb)],
  ['stores/op', (row) => (row.storesPerOp === undefined ? '' : String(row.storesPerOp))],
  ['bytes/op', (row) => (row.bytesPerOp === undefined ? '' : String(row.bytesPerOp))],
  ['touch s', (row) => (row.touchSeconds === undefined ? '' : String(row.touchSeconds))],
  ['idle RSS MB', (row) => (row.rssAfterIdleMb === undefined ? '' : String(row.rssAfterIdleMb))],
  ['ops/s by round', (row) => row.roundsOpsPerSec?.join(' ') ?? ''],
]

function table(rows: Row[]): string {
  const used = columns.filter(([, cell]) => rows.some((row) => cell(row) !== ''))
  const lines = [
    `| ${used.map(([title]) => title).join(' | ')} |`,
    `|${used.map((_, i) => (i === 0 ? ' :--- ' : ' ---: ')).join('|')}|`,
    ...rows.map((row) => `| ${used.map(([, cell]) => cell(row)).join(' | ')} |`),
  ]
  return lines.join('\n')
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? Number.NaN : Math.round((a / b) * 100) / 100

const machine = [
  `node ${process.version}`,
  `${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'})`,
  `temp dir ${tmpdir()} on ${fileSystemType(tmpdir())} (${mountType(tmpdir())})`,
  `UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 'default (4)'}`,
].join(', ')

const command = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`
const out: string[] = [`command: ${command}`, `machine: ${machine}`, '']
console.log(out.join('\n'))

const postgresNames = new Set(postgresSystems.map((system) => system.name))
const rows: Row[] = []
for (const scenario of scenarios) {
  if (only && !only.includes(scenario.name)) continue
  const names = onlySystems.filter(
    (system) =>
      (!quick || !scenario.quickSystems || scenario.quickSystems.includes(system)) &&
      (system !== DURABLE_WRITE_LIMIT_PARALLEL || scenario.parallelLimit) &&
      // Each PostgreSQL run starts and seeds a server of its own: they run where the issue compares them.
      (!postgresNames.has(system) || scenario.name === 'concurrent'),
  )
  const runs = new Map<string, Row[]>()
  for (let round = 0; round < scenario.rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length] as string)
    for (const system of order) {
      const row = await runOne({ scenario: scenario.name, system, ...scenario.request })
      if (!row) continue
      runs.set(system, [...(runs.get(system) ?? []), row])
      console.error(`  ${scenario.name} / ${system} round ${round + 1}: ${row.opsPerSec} ops/s`)
    }
  }
  const scenarioRows: Row[] = []
  for (const system of names) {
    const all = runs.get(system)
    if (!all) continue
    const sorted = [...all].sort((a, b) => a.opsPerSec - b.opsPerSec)
    const median = sorted[Math.floor((sorted.length - 1) / 2)] as Row
    const row: Row = { ...median, ...(all.length > 1 ? { roundsOpsPerSec: all.map((one) => one.opsPerSec) } : {}) }
    scenarioRows.push(row)
    rows.push(row)
  }
  const ours = scenarioRows.find((row) => row.system === 'market-system')
  const ratios = scenarioRows
    .filter((row) => row !== ours)
    .map((row) => `${row.system} ${ratio(ours?.opsPerSec, row.opsPerSec)}x`)
    .join(', ')
  const block = [`### ${scenario.name}`, '', table(scenarioRows), '', `market-system ops/s vs: ${ratios}`, '']
  console.log(block.join('\n'))
  out.push(...block)
}

const find = (scenario: string, system: string) =>
  rows.find((row) => row.scenario === scenario && row.system === system)
const ops = (scenario: string, system: string) => find(scenario, system)?.opsPerSec
const many = find('many-markets', 'market-system')
const targets = [
  [
    'concurrent: market-system / sqlite-full >= 3',
    ratio(ops('concurrent', 'market-system'), ops('concurrent', 'sqlite-full')),
    3,
  ],
  [
    'concurrent: market-system / lowdb >= 1.5',
    ratio(ops('concurrent', 'market-system'), ops('concurrent', 'lowdb')),
    1.5,
  ],
  [
    'sequential: market-system / durable-write-limit >= 0.8',
    ratio(ops('sequential', 'market-system'), ops('sequential', 'durable-write-limit')),
    0.8,
  ],
  [
    'large-market-10k: market-system / sqlite-full >= 1',
    ratio(ops('large-market-10k', 'market-system'), ops('large-market-10k', 'sqlite-full')),
    1,
  ],
  [
    'many-markets: market-system / durable-write-limit-parallel >= 0.8',
    ratio(ops('many-markets', 'market-system'), ops('many-markets', DURABLE_WRITE_LIMIT_PARALLEL)),
    0.8,
  ],
  [
    'concurrent: market-system-postgres / postgres-per-op >= 2',
    ratio(ops('concurrent', 'market-system-postgres'), ops('concurrent', 'postgres-per-op')),
    2,
  ],
  [
    'large-market-10k / concurrent (market-system) >= 0.25',
    ratio(ops('large-market-10k', 'market-system'), ops('concurrent', 'market-system')),
    0.25,
  ],
] as const
/**
 * Within one scenario, round i of every system ran back to back, so the median of the per-round ratios
 * cancels most of the machine's bursts; shown beside the ratio of the medians, which decides.
 */
function pairedRatio(scenario: string, a: string, b: string): number {
  const left = find(scenario, a)?.roundsOpsPerSec
  const right = find(scenario, b)?.roundsOpsPerSec
  if (!left || !right || left.length !== right.length) return Number.NaN
  const ratios = left.map((value, i) => value / (right[i] as number)).sort((x, y) => x - y)
  return Math.round((ratios[Math.floor((ratios.length - 1) / 2)] as number) * 100) / 100
}
const pairs: Record<string, [string, string, string]> = {
  'concurrent: market-system / sqlite-full >= 3': ['concurrent', 'market-system', 'sqlite-full'],
  'concurrent: market-system / lowdb >= 1.5': ['concurrent', 'market-system', 'lowdb'],
  'sequential: market-system / durable-write-limit >= 0.8': ['sequential', 'market-system', 'durable-write-limit'],
  'large-market-10k: market-system / sqlite-full >= 1': ['large-market-10k', 'market-system', 'sqlite-full'],
  'concurrent: market-system-postgres / postgres-per-op >= 2': [
    'concurrent',
    'market-system-postgres',
    'postgres-per-op',
  ],
}
const targetLines = ['### targets', '']
for (const [name, value, goal] of targets) {
  if (Number.isNaN(value)) continue
  const pair = pairs[name]
  const paired = pair ? pairedRatio(...pair) : Number.NaN
  const note = Number.isNaN(paired) ? '' : ` (median of per-round ratios: ${paired})`
  targetLines.push(`- ${name}: ${value} ${value >= goal ? 'MET' : 'MISSED'}${note}`)
}
if (many) {
  targetLines.push(
    `- many-markets: peak RSS ${many.rssMb} MB (< 1024 ${many.rssMb < 1024 ? 'MET' : 'MISSED'}), ` +
      `after passivation ${many.rssAfterIdleMb} MB`,
  )
}
console.log(targetLines.join('\n'))
out.push(...targetLines)

if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(rows, null, 2)}\n`)
