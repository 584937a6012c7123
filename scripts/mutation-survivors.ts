// Rewrites the tables of test/mutation-survivors.md from Stryker's JSON report, after `npm run mutation`:
//
//   npx tsx scripts/mutation-survivors.ts [report.json] [reasons.json]
//
// The prose above the first table is kept as written. A survivor keeps the reason the document already gives
// it when its file, mutator, code and mutant are unchanged (line numbers may move). reasons.json, if given,
// adds reasons keyed `file:line:column:mutator:replacement`. Survivors with no reason say "not examined".
// Static mutants (run at module load) are counted apart and left out of the score, as `ignoreStatic` does: an
// incremental run can carry over a result for one from a run in which a test reloaded its module.
import { readFileSync, writeFileSync } from 'node:fs'

interface Mutant {
  mutatorName: string
  static?: boolean
  replacement?: string
  status: string
  location: { start: { line: number; column: number } }
}
interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>
}

const DOCUMENT = 'test/mutation-survivors.md'
const NOT_EXAMINED = 'not examined'
const COUNTED = ['Killed', 'Timeout', 'Survived', 'NoCoverage'] as const
type Counted = (typeof COUNTED)[number]

const [reportPath = 'reports/mutation/mutation.json', reasonsPath] = process.argv.slice(2)
const report = JSON.parse(readFileSync(reportPath, 'utf8')) as Report
const added = reasonsPath ? (JSON.parse(readFileSync(reasonsPath, 'utf8')) as Record<string, string>) : {}
const document = readFileSync(DOCUMENT, 'utf8')

const code = (text: string, length: number) => text.replace(/\s+/g, ' ').trim().slice(0, length)
// A Markdown code span as biome writes one: the shortest fence that is no run of backticks inside, padded
// with a space when the text starts or ends with a backtick; `unspan` reads either back.
const span = (text: string) => {
  const runs = new Set((text.match(/`+/g) ?? []).map((run) => run.length))
  let fence = '`'
  while (runs.has(fence.length)) fence += '`'
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${text}${pad}${fence}`
}
const unspan = (text: string) => (/^ .*[^ ].* $/.test(text) ? text.slice(1, -1) : text)
const survivorKey = (file: string, mutator: string, original: string, mutant: string) =>
  [file, mutator.replace(' (no coverage)', ''), original, mutant].join('\u0000')

// A survivor is an item `- line N, Mutator: <code span> → <code span>`, with its reason on the next line.
const kept = new Map<string, string>()
let section = ''
let survivor: string | undefined
for (const line of document.split('\n')) {
  if (line.startsWith('### ')) section = line.slice(4).trim()
  const reason = survivor === undefined ? '' : line.trim()
  if (survivor !== undefined && reason !== '' && reason !== NOT_EXAMINED) kept.set(survivor, reason)
  const item = /^- line \d+, (.+?): (`+)(.+?)\2 → (`+)(.+?)\4$/.exec(line)
  survivor = item ? survivorKey(section, item[1] ?? '', unspan(item[3] ?? ''), unspan(item[5] ?? '')) : undefined
}

const summary = [
  '| file | killed | timed out | survived | no coverage | static, left out | score |',
  '| :-- | --: | --: | --: | --: | --: | --: |',
]
const lists: string[] = []
type Counts = Record<Counted | 'Static', number>
const zero = (): Counts => ({ Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, Static: 0 })
const total = zero()
let explained = 0
let unexplained = 0
const score = (c: Counts) => {
  const all = c.Killed + c.Timeout + c.Survived + c.NoCoverage
  return all === 0 ? '-' : `${((100 * (c.Killed + c.Timeout)) / all).toFixed(2)} %`
}

for (const [file, { source, mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const lines = source.split('\n')
  const counts = zero()
  const rows: string[] = []
  const ordered = [...mutants].sort(
    (a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column,
  )
  for (const mutant of ordered) {
    if (!COUNTED.includes(mutant.status as Counted)) continue
    if (mutant.static) {
      counts.Static++
      total.Static++
      continue
    }
    counts[mutant.status as Counted]++
    total[mutant.status as Counted]++
    if (mutant.status !== 'Survived' && mutant.status !== 'NoCoverage') continue
    const { line, column } = mutant.location.start
    const original = code(lines[line - 1] ?? '', 80)
    const replacement = code(mutant.replacement ?? '', 80)
    const reason =
      added[`${file}:${line}:${column}:${mutant.mutatorName}:${mutant.replacement ?? ''}`] ??
      kept.get(survivorKey(file, mutant.mutatorName, original, replacement))
    if (reason) explained++
    else unexplained++
    const mutator = mutant.status === 'NoCoverage' ? `${mutant.mutatorName} (no coverage)` : mutant.mutatorName
    rows.push(`- line ${line}, ${mutator}: ${span(original)} → ${span(replacement)}`, `  ${reason ?? NOT_EXAMINED}`)
  }
  summary.push(
    `| ${file} | ${counts.Killed} | ${counts.Timeout} | ${counts.Survived} | ${counts.NoCoverage} | ${counts.Static} | ${score(counts)} |`,
  )
  if (rows.length > 0) lists.push(`### ${file}`, '', ...rows, '')
}
summary.push(
  `| **all** | ${total.Killed} | ${total.Timeout} | ${total.Survived} | ${total.NoCoverage} | ${total.Static} | **${score(total)}** |`,
)

const prose = document.slice(0, document.indexOf('\n| file ')).trimEnd()
const counts = `Survivors with a reason: ${explained}; not examined: ${unexplained}.`
writeFileSync(DOCUMENT, [prose, '', ...summary, '', counts, '', '## Surviving mutants', '', ...lists].join('\n'))
console.log(`score ${score(total)}; survivors with a reason ${explained}, not examined ${unexplained}`)
