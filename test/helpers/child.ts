import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

const script = fileURLToPath(new URL('../fixtures/child.ts', import.meta.url))

export interface Child {
  process: ChildProcess
  lines: string[]
  /** Resolves once the child printed a line matching `predicate`. */
  waitFor(predicate: (line: string) => boolean): Promise<void>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stderr: () => string
}

/** Everything a child printed, and its exit code, once it has exited; call it right after spawning. */
export async function finished(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, stdout, stderr }
}

/** A list whose child processes are killed (and awaited) after each test. */
export function useChildCleanup(): ChildProcess[] {
  const children: ChildProcess[] = []
  afterEach(async () => {
    await Promise.all(
      children.splice(0).map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.once('exit', () => resolve())
            child.kill('SIGKILL')
          }),
      ),
    )
  })
  return children
}

/** Spawns test/fixtures/child.ts; every child still running is killed after the test. */
export function useChildren(): (...args: string[]) => Child {
  const children = useChildCleanup()
  return (...args) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    const lines: string[] = []
    const watchers: { predicate: (line: string) => boolean; resolve: () => void }[] = []
    let buffer = ''
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const parts = buffer.split('\n')
      buffer = parts.pop() ?? ''
      for (const line of parts) {
        lines.push(line)
        for (const watcher of [...watchers]) {
          if (watcher.predicate(line)) {
            watchers.splice(watchers.indexOf(watcher), 1)
            watcher.resolve()
          }
        }
      }
    })
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    )
    return {
      process: child,
      lines,
      exited,
      stderr: () => stderr,
      waitFor: (predicate) =>
        new Promise<void>((resolve, reject) => {
          if (lines.some(predicate)) return resolve()
          watchers.push({ predicate, resolve })
          void exited.then(({ code }) => reject(new Error(`child exited (${code}) before the line: ${stderr}`)))
        }),
    }
  }
}
