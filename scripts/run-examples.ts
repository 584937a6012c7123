// `npm run examples:all`: runs every examples/*.ts to completion, one child process each, and fails if any does.
// New examples are picked up without editing this list; each must finish on its own with no input.
import { spawn } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const TIMEOUT_MS = 120_000
const root = fileURLToPath(new URL('..', import.meta.url))
const examples = (await readdir(new URL('../examples/', import.meta.url))).filter((file) => file.endsWith('.ts')).sort()

function runExample(file: string): Promise<{ code: number | null; ms: number }> {
  const started = performance.now()
  // stdin ignored: an example that waits for input fails by timeout instead of hanging CI.
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/${file}`], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS)
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, ms: performance.now() - started })
    })
  })
}

const failed: string[] = []
for (const file of examples) {
  console.log(`\n=== examples/${file}`)
  const { code, ms } = await runExample(file)
  console.log(`=== examples/${file}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${Math.round(ms)} ms`)
  if (code !== 0) failed.push(file)
}
console.log(
  `\n${examples.length - failed.length}/${examples.length} examples passed${failed.length ? `; failed: ${failed.join(', ')}` : ''}`,
)
process.exitCode = failed.length === 0 ? 0 : 1
