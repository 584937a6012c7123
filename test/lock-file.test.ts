import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type FileSystem, nodeFileSystem } from '../src/file-database/file-system.js'
import { type LockOwner, parseOwner, thisProcess, writeAll, writeOwnerFile } from '../src/file-database/lock-file.js'
import { ioError } from './helpers/faulty-fs.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const parents: ReturnType<typeof spawn>[] = []
afterEach(async () => {
  await Promise.all(
    parents.splice(0).map(async (parent) => {
      if (parent.exitCode !== null || parent.signalCode !== null) return
      const exited = new Promise((resolve) => parent.once('exit', resolve))
      // Closing its stdin lets the parent reap its child and exit.
      parent.stdin?.end()
      await exited
    }),
  )
})

/** What /proc says of `pid`: its state letter and start time, fields 3 and 22 of its stat line. */
function stat(pid: number): { state: string; started: string } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { state: fields[0] as string, started: fields[19] as string }
}

/** A process that has exited but whose parent has not reaped it yet: a zombie. */
async function zombiePid(): Promise<number> {
  // The parent forks a child that exits at once, and reaps it only once its own stdin closes.
  const script = 'my $pid = fork(); exit 0 unless $pid; $| = 1; print "$pid\\n"; <STDIN>; waitpid($pid, 0)'
  const parent = spawn('perl', ['-e', script], { stdio: ['pipe', 'pipe', 'ignore'] })
  parents.push(parent)
  const pid = await new Promise<number>((resolve) => parent.stdout?.once('data', (data) => resolve(Number(data))))
  while (stat(pid).state !== 'Z') await new Promise((resolve) => setImmediate(resolve))
  return pid
}

const owner = (fields: Partial<LockOwner>): LockOwner => ({
  pid: process.ppid,
  host: hostname(),
  started: undefined,
  token: 'token',
  ...fields,
})

describe('thisProcess', () => {
  it('judges a process that has exited but is not reaped yet (a zombie) as stopped', async () => {
    const pid = await zombiePid()
    expect(await thisProcess.isAlive(owner({ pid }))).toBe(false)
  })

  it('judges a live process recorded with its own start time as alive', async () => {
    const { started } = stat(process.ppid)
    expect(await thisProcess.isAlive(owner({ started }))).toBe(true)
    expect(await thisProcess.isAlive(owner({ started: `${started}0` }))).toBe(false)
  })

  it('judges this process, as it describes itself, as alive', async () => {
    expect(await thisProcess.isAlive({ ...thisProcess.self(), token: 'mine' })).toBe(true)
  })
})

describe('parseOwner', () => {
  it.each([
    ['no token', { pid: 1, host: 'h' }],
    ['no host', { pid: 1, token: 't' }],
    ['a pid written as a string', { pid: '1', host: 'h', token: 't' }],
    ['no pid', { host: 'h', token: 't' }],
  ])('reads a lock with %s as no owner: not a whole lock', (_title, fields) => {
    expect(parseOwner(JSON.stringify(fields))).toBeUndefined()
  })

  it('reads a whole lock, a missing start time as undefined', () => {
    expect(parseOwner(JSON.stringify({ pid: 7, host: 'h', started: '42', token: 't' }))).toEqual({
      pid: 7,
      host: 'h',
      started: '42',
      token: 't',
    })
    expect(parseOwner(JSON.stringify({ pid: 7, host: 'h', started: null, token: 't' }))).toEqual({
      pid: 7,
      host: 'h',
      started: undefined,
      token: 't',
    })
    expect(parseOwner('null')).toBeUndefined()
  })
})

describe('writeAll', () => {
  it('reports a write that makes no progress as ENOSPC instead of retrying it', async () => {
    let calls = 0
    const handle = {
      write: async (_buffer: Uint8Array, _offset: number, length: number) => ({ bytesWritten: calls++ ? length : 0 }),
      sync: async () => {},
      close: async () => {},
    }
    await expect(writeAll(handle, new Uint8Array(8))).rejects.toMatchObject({
      code: 'ENOSPC',
      message: 'write made no progress',
    })
  })
})

describe('writeOwnerFile', () => {
  it('removes its temporary file when writing it fails, leaving the directory as it was', async () => {
    const dir = await tempDir()
    const failing: FileSystem = {
      ...nodeFileSystem,
      open: async (path, flags) => {
        const handle = await nodeFileSystem.open(path, flags)
        return {
          write: () => Promise.reject(ioError('EIO', 'write', path)),
          sync: () => handle.sync(),
          close: () => handle.close(),
        }
      },
    }
    await expect(writeOwnerFile(failing, join(dir, '.market-system.lock'), owner({}))).rejects.toMatchObject({
      code: 'EIO',
    })
    expect(await readdir(dir)).toEqual([])
  })
})
