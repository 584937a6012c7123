import { spawn, spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { LOCK_FILE } from '../src/file-database/dir-lock.js'
import { useChildCleanup } from './helpers/child.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const children = useChildCleanup()
const script = fileURLToPath(new URL('./fixtures/child.ts', import.meta.url))

// A new pid namespace makes the child PID 1, as a container's entrypoint is; `--kill-child` makes a
// SIGKILL of `unshare` kill it too. Needs root (or user namespaces), so elsewhere the test is skipped and
// dir-lock.test.ts covers the same rule with a lock file naming this process's pid.
const unshare = ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL']
const canUnshare = spawnSync('unshare', [...unshare, 'true']).status === 0

function asPid1(...args: string[]) {
  const child = spawn('unshare', [...unshare, process.execPath, '--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let out = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const ready = new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      out += chunk.toString()
      if (/^ready$/m.test(out)) resolve()
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    void exited.then(() => reject(new Error(`PID 1 exited before it was ready: ${out}`)))
  })
  // Awaited only where the child is meant to get ready; a `check` child exits instead.
  ready.catch(() => {})
  return { child, ready, exited, output: () => out }
}

describe.runIf(canUnshare)('a restarted container whose entrypoint is PID 1', () => {
  it('starts on the directory the previous PID 1 held when it was killed with SIGKILL', async () => {
    const dir = await tempDir()
    const first = asPid1('hold', dir)
    await first.ready
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: 1 })
    first.child.kill('SIGKILL')
    await first.exited
    const restarted = asPid1('check', dir)
    const code = await restarted.exited
    expect(restarted.output()).not.toContain('DataDirLockedError')
    expect(code).toBe(0)
  })
})
