import { type ChildProcess, spawn } from 'node:child_process'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MarketCache } from '../../src/index.js'
import { sample } from './temp-dir.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs `market-system ...args` from source, as `npm run repl` does, with `input` on stdin.
 * `preload` files are `--require`d first (to change the child's environment, e.g. hide a package).
 */
export function cli(
  args: string[],
  input: string | Uint8Array = '',
  options: { preload?: string[] } = {},
): Promise<CliResult> {
  return spawnCli(args, input, options).done
}

/**
 * `market-system ...args` as a child whose signals the test sends (`child.kill('SIGINT')`), with `input` on
 * stdin; `done` resolves on exit. The caller kills `child` if the test ends first.
 */
export function spawnCli(
  args: string[],
  input: string | Uint8Array = '',
  options: { preload?: string[] } = {},
): {
  child: ChildProcess
  done: Promise<CliResult & { signal: NodeJS.Signals | null }>
  stderr: () => string
} {
  const preload = (options.preload ?? []).flatMap((file) => ['--require', file])
  const child = spawn(process.execPath, [...preload, '--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk
  })
  child.stdin.end(input)
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  )
  return { child, done, stderr: () => stderr }
}

/** A valid export document of `count` markets (`m0`, `m1`, ...), one product each. */
export function bigDocument(count: number): string {
  const markets = Array.from({ length: count }, (_, i) => ({ name: `m${i}`, products: [{ id: 'p', ...sample }] }))
  return JSON.stringify({ format: 1, markets })
}

export const expired = { name: 'linguissa', quantity: 5, expirationDate: '2000-01-01', price: 23.45 }
export const fresh = { name: 'milk', quantity: 12, expirationDate: '2999-12-31', price: 1.5 }

/** Seeds `dir` with two markets, "Bob's list" (id-1 expired, id-2 fresh) and "Anna" (id-3 sample). */
export async function seed(dir: string): Promise<void> {
  let next = 0
  const cache = await MarketCache.start({ dataDir: dir, generateId: () => `id-${++next}` })
  await cache.market("Bob's list").addProduct(expired)
  await cache.market("Bob's list").addProduct(fresh)
  await cache.market('Anna').addProduct(sample)
  await cache.close()
}

/** The path of the market file in `dir` whose name starts with `prefix` (the slug of the market's name). */
export const fileOf = async (dir: string, prefix: string) =>
  join(dir, (await readdir(dir)).find((name) => name.startsWith(prefix)) as string)

export const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  )
