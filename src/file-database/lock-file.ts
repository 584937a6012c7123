import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { tempNameFor } from './file-names.js'
import type { FileHandleLike, FileSystem } from './file-system.js'

/** @internal Who wrote a lock or takeover guard file: its content, as JSON. */
export interface LockOwner {
  pid: number
  host: string
  /** The writer's start time in clock ticks since boot (Linux), so a recycled pid is not mistaken for it. */
  started: string | undefined
  /** Random per attempt: names one attempt of one process, never reused. */
  token: string
}

/**
 * @internal
 * Who is starting and whether the writer of a lock file can still act, as a seam: the default asks the
 * operating system; the takeover tests play several processes, and crash them, inside one.
 */
export interface LockProcesses {
  self(): Omit<LockOwner, 'token'>
  /** False only when the writer has certainly stopped for good: a takeover of a live owner makes two. */
  isAlive(owner: LockOwner): Promise<boolean>
}

/** What /proc says of a process (Linux): its state letter and start time in clock ticks since boot. */
function procStat(pid: number): { state: string; started: string | undefined } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields 3 and 22; the command name (field 2) may contain spaces, so count from its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0] ?? '', started: fields[19] }
  } catch {
    return undefined
  }
}

/** @internal The processes of this machine, seen from this one. */
export const thisProcess: LockProcesses = {
  self: () => ({ pid: process.pid, host: hostname(), started: procStat(process.pid)?.started }),
  async isAlive(owner) {
    // Another machine's processes cannot be seen: never take over from one. Without a kernel lock (Node
    // has no flock), the host name is all that tells machines apart, and a pid is judged in this process's
    // pid namespace. So containers sharing a directory need distinct host names: with one (`--network host`,
    // the containers of one pod), another container's live owner is judged by our pids, e.g. its PID 1 as
    // our own dead predecessor. And a container recreated under a new host name never takes over its
    // predecessor's lock: that one is removed by hand (README, Limits).
    if (owner.host !== hostname()) return true
    try {
      process.kill(owner.pid, 0)
    } catch (error) {
      // EPERM: the pid is in use, by a process of another user; the start time below says whether it is the owner.
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
    }
    const stat = procStat(owner.pid)
    // A zombie (Z) or dead (X) process has exited, only its parent's wait is missing. (A main thread that
    // ends alone shows Z too, but the owner is a Node process, whose main thread never does.)
    if (stat?.state === 'Z' || stat?.state === 'X') return false
    // The same pid with another start time is another process: a recycled pid, or an earlier process that
    // had our own pid (a restarted container is PID 1 again). With our pid and our start time, it is this
    // very process, alive, whichever thread or copy of this module holds the lock. Without both start
    // times (no /proc: not Linux, or hidden) nothing tells them apart, and a live owner must never be passed.
    return owner.started === undefined || stat?.started === undefined || stat.started === owner.started
  },
}

/**
 * @internal The writer named by a lock file's text, or undefined for text that is not a whole lock:
 * empty or torn by a power loss, or written by hand.
 */
export function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner> | null
    if (typeof value?.pid === 'number' && typeof value.host === 'string' && typeof value.token === 'string') {
      return { pid: value.pid, host: value.host, started: value.started ?? undefined, token: value.token }
    }
  } catch {}
  return undefined
}

/** @internal A file-name-safe key for a lock file's exact text; distinct texts, distinct keys. */
export function textKey(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32)
}

/** @internal Writes all of `data` through `handle`, continuing after short writes. */
export async function writeAll(handle: FileHandleLike, data: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, offset)
    // A write that makes no progress would loop forever; report it as the device being full.
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'ENOSPC' })
    offset += bytesWritten
  }
}

/**
 * @internal
 * Writes `owner` to a new temporary file beside `lockPath`, whole and fsynced, and returns its path:
 * linked into place afterwards, a lock file is complete from the moment it exists, and a power loss
 * cannot leave it empty.
 */
export async function writeOwnerFile(fs: FileSystem, lockPath: string, owner: LockOwner): Promise<string> {
  // A temp name like the market files' own, so one left by a crash is removed when the directory is next opened.
  const temp = join(dirname(lockPath), tempNameFor(basename(lockPath)))
  try {
    const handle = await fs.open(temp, 'wx')
    try {
      await writeAll(handle, new TextEncoder().encode(JSON.stringify(owner)))
      await handle.sync()
    } finally {
      await handle.close()
    }
    return temp
  } catch (error) {
    await fs.unlink(temp).catch(() => {})
    throw error
  }
}
