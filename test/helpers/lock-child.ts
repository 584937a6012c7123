import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { useChildCleanup } from './child.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const fixture = fileURLToPath(new URL('../fixtures/child.ts', import.meta.url))

/** The command line running test/fixtures/child.ts in `mode` on `dir` (see the fixture for the modes). */
export const fixtureCommand = (mode: string, dir: string) => [process.execPath, '--import', 'tsx', fixture, mode, dir]

/**
 * `unshare` arguments giving the command a new pid namespace, so it runs as PID 1 as a container's
 * entrypoint does; `--kill-child` makes a SIGKILL of `unshare` kill it too. Needs root (or user namespaces).
 */
export const asPid1 = ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL']
export const canUnshare = spawnSync('unshare', [...asPid1, 'true']).status === 0

export interface LockChild {
  child: ReturnType<typeof spawn>
  /** Resolves once the child printed "ready"; rejects if it exits first. */
  ready: Promise<void>
  exited: Promise<number | null>
  /** Everything it printed so far, stdout and stderr. */
  output(): string
}

/** Runs commands from the project's root; every one still running is killed after the test. */
export function useLockChildren(): (command: readonly string[], options?: { uid?: number; gid?: number }) => LockChild {
  const children = useChildCleanup()
  return ([command = '', ...args], options = {}) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...options })
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
      void exited.then(() => reject(new Error(`exited before it was ready: ${out}`)))
    })
    // Awaited only where the child is meant to get ready; a `check` child exits instead.
    ready.catch(() => {})
    return { child, ready, exited, output: () => out }
  }
}
