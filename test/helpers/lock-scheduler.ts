import { basename } from 'node:path'
import { DirLock, LOCK_FILE } from '../../src/file-database/dir-lock.js'
import type { FileSystem } from '../../src/file-database/file-system.js'
import { type LockOwner, type LockProcesses, parseOwner } from '../../src/file-database/lock-file.js'
import { DataDirLockedError } from '../../src/index.js'

/** The simulated machine's name; owners recorded with a pid of 900 or more are processes that died before. */
export const HOST = 'simulated'
export const deadOwner = (pid: number, token: string) => JSON.stringify({ pid, host: HOST, started: '1', token })

export interface Exploration {
  starters: number
  /** Bounds the schedules: how often a starter that could go on is interrupted by another. */
  preemptions: number
  /** How many starters may crash in one schedule (stop forever before one of their file operations). */
  crashes: number
  /** How many file operations may fail with EIO in one schedule (the starter's error handling then runs). */
  faults?: number
  /** A fresh directory holding `files` (name to text), and its file system. */
  setUp(files: Record<string, string>): Promise<{ fs: FileSystem; dir: string }>
  files: Record<string, string>
  /** The lock under test; `DirLock.acquire` unless a test shows the explorer catching a broken one. */
  acquire?: Acquire
}

/** Takes a lock as `DirLock.acquire` does. */
export type Acquire = (fs: FileSystem, dir: string, processes: LockProcesses) => Promise<{ release(): Promise<void> }>

export interface Report {
  schedules: number
  /** Each broken property, with the schedule that broke it; empty when all hold. */
  violations: string[]
}

type Action = { kind: 'step' | 'crash' | 'fault'; starter: number }
interface Point {
  options: Action[]
  chosen: number
}

/**
 * Runs `starters` concurrent `DirLock.acquire` + `release` under every schedule within the bounds,
 * depth first: each starter pauses before each call to the file-system seam, and the explorer picks
 * who goes next, or crashes, or has its next call fail. After every step it checks that at most one live starter holds the
 * lock and that the lock file names it; at the end of each schedule, that a fresh starter acquires
 * and, after its release, the directory is empty (no crash leftover blocks anyone or stays behind).
 */
export async function explore(exploration: Exploration): Promise<Report> {
  const violations: string[] = []
  let schedules = 0
  let prefix: number[] = []
  for (;;) {
    const { points, violation } = await runSchedule(exploration, prefix)
    schedules++
    if (violation) violations.push(violation)
    if (violations.length >= 3) break
    let depth = points.length - 1
    while (depth >= 0 && (points[depth] as Point).chosen + 1 >= (points[depth] as Point).options.length) depth--
    if (depth < 0) break
    prefix = [...points.slice(0, depth).map((point) => point.chosen), (points[depth] as Point).chosen + 1]
  }
  return { schedules, violations }
}

type Status = 'running' | 'holding' | 'released' | 'stopped' | 'crashed'

async function runSchedule(exploration: Exploration, prefix: number[]) {
  const { fs, dir } = await exploration.setUp(exploration.files)
  const count = exploration.starters
  const acquire = exploration.acquire ?? DirLock.acquire
  const status: Status[] = Array.from({ length: count }, () => 'running')
  const paused: (((fail: boolean) => void) | undefined)[] = []
  const faulted: boolean[] = []
  /** Whether the call each starter is paused before is a file operation, which can fail. */
  const faultable: boolean[] = []
  const done: boolean[] = []
  const trace: string[] = []
  const problems: string[] = []
  let wake: (() => void) | undefined

  const alive = (pid: number) => {
    const state = pid === FRESH ? 'running' : status[pid - 100]
    return state === 'running' || state === 'holding'
  }
  const pause = (starter: number, op: string, path: string, canFail = true) =>
    new Promise<void>((resume, reject) => {
      faultable[starter] = canFail
      paused[starter] = (fail) => {
        trace.push(`${starter}:${fail ? 'EIO on ' : ''}${op} ${basename(path)}`)
        if (fail) reject(Object.assign(new Error(`EIO: ${op} ${path}`), { code: 'EIO' }))
        else resume()
      }
      wake?.()
    })
  // Judging a writer is a step of its own: another starter may stop between reading a file and the judgment.
  const processes = (pid: number, starter?: number): LockProcesses => ({
    self: () => ({ pid, host: HOST, started: '1' }),
    isAlive: async (owner: LockOwner) => {
      if (starter !== undefined) await pause(starter, 'is alive?', String(owner.pid), false)
      return owner.host !== HOST || alive(owner.pid)
    },
  })
  const gated = (starter: number): FileSystem => {
    const then = <T>(op: string, path: string, call: () => Promise<T>) => pause(starter, op, path).then(call)
    return {
      open: (path, flags) => then('open', path, () => fs.open(path, flags)),
      readFile: (path, encoding) => then('read', path, () => fs.readFile(path, encoding)),
      readdir: (path) => then('readdir', path, () => fs.readdir(path)),
      mkdir: (path, options) => then('mkdir', path, () => fs.mkdir(path, options)),
      rename: (from, to) => then(`rename ${basename(from)} ->`, to, () => fs.rename(from, to)),
      link: (existing, path) => then(`link ${basename(existing)} ->`, path, () => fs.link(existing, path)),
      unlink: (path) => then('unlink', path, () => fs.unlink(path)),
    }
  }
  const quiet = () =>
    new Promise<void>((resolve) => {
      const check = () => {
        const settled = status.every((state, i) => state === 'crashed' || paused[i] !== undefined || done[i])
        wake = settled ? undefined : check
        if (settled) resolve()
      }
      check()
    })
  const checkOwners = async () => {
    const holders = status.flatMap((state, i) => (state === 'holding' ? [i] : []))
    if (holders.length > 1) problems.push(`two live owners: starters ${holders.join(' and ')}`)
    const [holder] = holders
    if (holder === undefined) return
    const text = await fs.readFile(`${dir}/${LOCK_FILE}`, 'utf8').catch(() => '')
    if (parseOwner(text)?.pid !== 100 + holder) problems.push(`starter ${holder} holds, the lock file reads ${text}`)
  }

  for (let i = 0; i < count; i++) {
    void (async () => {
      try {
        const lock = await acquire(gated(i), dir, processes(100 + i, i))
        status[i] = 'holding'
        await lock.release()
        status[i] = 'released'
      } catch (error) {
        if (!(error instanceof DataDirLockedError) && !faulted[i])
          problems.push(`starter ${i} failed: ${String(error)}`)
        status[i] = 'stopped'
      } finally {
        done[i] = true
        wake?.()
      }
    })()
  }
  await quiet()

  const points: Point[] = []
  let last = -1
  let preemptions = 0
  let crashes = 0
  let faults = 0
  let acquired = false
  for (;;) {
    await checkOwners()
    if (status.includes('holding')) acquired = true
    if (problems.length > 0) break
    const enabled = status.flatMap((state, i) => (state !== 'crashed' && paused[i] ? [i] : []))
    if (enabled.length === 0) break
    const canPreempt = preemptions < exploration.preemptions
    const steps = enabled.includes(last) ? [last, ...(canPreempt ? enabled.filter((i) => i !== last) : [])] : enabled
    const options: Action[] = [
      ...steps.map((starter) => ({ kind: 'step' as const, starter })),
      ...(crashes < exploration.crashes ? enabled.map((starter) => ({ kind: 'crash' as const, starter })) : []),
      ...(faults < (exploration.faults ?? 0)
        ? steps.filter((i) => faultable[i]).map((starter) => ({ kind: 'fault' as const, starter }))
        : []),
    ]
    const chosen = prefix[points.length] ?? 0
    points.push({ options, chosen })
    const action = options[chosen] as Action
    if (action.kind === 'crash') {
      crashes++
      status[action.starter] = 'crashed'
      paused[action.starter] = undefined
      trace.push(`${action.starter}:CRASH`)
      continue
    }
    if (enabled.includes(last) && action.starter !== last) preemptions++
    last = action.starter
    if (action.kind === 'fault') {
      faults++
      faulted[action.starter] = true
    }
    const resume = paused[action.starter] as (fail: boolean) => void
    paused[action.starter] = undefined
    resume(action.kind === 'fault')
    await quiet()
  }

  if (problems.length === 0 && crashes + faults === 0 && !acquired) problems.push('nobody acquired the lock')
  if (problems.length === 0) await checkFreshStart(fs, dir, processes(FRESH), problems)
  const violation = problems.length > 0 ? `${problems.join('; ')}\n  schedule: ${trace.join(', ')}` : undefined
  return { points, violation }
}

const FRESH = 199

async function checkFreshStart(fs: FileSystem, dir: string, processes: LockProcesses, problems: string[]) {
  try {
    const lock = await DirLock.acquire(fs, dir, processes)
    await lock.release()
    const left = await fs.readdir(dir)
    if (left.length > 0) problems.push(`left in the directory: ${left.join(', ')}`)
  } catch (error) {
    problems.push(`a later starter could not start: ${String(error)}`)
  }
}
