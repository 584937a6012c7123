// The directory lock against real processes and threads, where the claim is about them: API.md "One owner
// per data directory", and `close()` leaving only market files.
import { spawn } from 'node:child_process'
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { LOCK_FILE } from '../src/file-database/dir-lock.js'
import { isMarketFile } from '../src/file-database/file-names.js'
import { MarketCache } from '../src/index.js'
import { useChildCleanup } from './helpers/child.js'
import { fixtureCommand, useLockChildren } from './helpers/lock-child.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const run = useLockChildren()
const strangers = useChildCleanup()
const workers: Worker[] = []
const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()))
  await Promise.allSettled(caches.splice(0).map((cache) => cache.close()))
})

const tsxApi = new URL('../node_modules/tsx/dist/esm/api/index.mjs', import.meta.url).href
const indexUrl = new URL('../src/index.ts', import.meta.url).href
const isRoot = process.getuid?.() === 0

async function lockOwner(dir: string): Promise<{ pid: number; token: string }> {
  return JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))
}

describe('one owner per data directory, across threads', () => {
  // A worker thread has its own copy of every module (as the ESM and CJS builds loaded in one process
  // are two copies): only the pid and start time in the lock tell it that this process holds it.
  it('refuses a second cache started in a worker thread of the process that holds the directory', async () => {
    const dir = await tempDir()
    const first = await MarketCache.start({ dataDir: dir })
    caches.push(first)
    const source = `
      const { parentPort, workerData } = require('node:worker_threads')
      import(workerData.tsxApi)
        .then(({ tsImport }) => tsImport(workerData.index, workerData.index))
        .then(({ MarketCache }) => MarketCache.start({ dataDir: workerData.dir }))
        .then(() => parentPort.postMessage('started'), (error) => parentPort.postMessage(String(error?.name)))
    `
    const worker = new Worker(source, { eval: true, workerData: { tsxApi, index: indexUrl, dir } })
    workers.push(worker)
    const outcome = await new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    expect(outcome).toBe('DataDirLockedError')
  })
})

describe('a dead owner never needs a manual step', () => {
  // The recorded owner died and its pid now belongs to another user's process, started later: `kill(pid, 0)`
  // fails with EPERM, which says the pid is in use, not by whom; the start time in /proc says it is not the owner.
  it.runIf(isRoot)(
    "takes over a dead owner's lock whose pid now belongs to another user's younger process",
    async () => {
      const dir = await tempDir()
      await chmod(dir, 0o777)
      const stranger = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
      strangers.push(stranger)
      await writeFile(
        join(dir, LOCK_FILE),
        JSON.stringify({ pid: stranger.pid, host: hostname(), started: '1', token: 'dead-owner' }),
      )
      await chmod(join(dir, LOCK_FILE), 0o666)
      const starter = run(fixtureCommand('check', dir), { uid: 65534, gid: 65534 })
      const code = await starter.exited
      expect(starter.output()).not.toContain('DataDirLockedError')
      expect(code).toBe(0)
    },
  )

  // The owner was killed but its parent has not reaped it (a parent that never waits, as `exec sleep`
  // below, or a PID 1 that does not reap): `kill(pid, 0)` succeeds on a zombie and /proc still shows its
  // start time, but its state is Z.
  it('takes over the lock of an owner that was killed and is a zombie its parent has not reaped', async () => {
    const dir = await tempDir()
    const quoted = fixtureCommand('hold', dir)
      .map((arg) => `'${arg}'`)
      .join(' ')
    const parent = run(['sh', '-c', `${quoted} & exec sleep 600`])
    await parent.ready
    const { pid } = await lockOwner(dir)
    process.kill(pid, 'SIGKILL')
    let state = ''
    for (let i = 0; i < 100 && state !== 'Z'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    }
    expect(state).toBe('Z')
    const cache = await MarketCache.start({ dataDir: dir })
    caches.push(cache)
    expect((await lockOwner(dir)).pid).toBe(process.pid)
  })
})

describe('close() leaves only market files', () => {
  // Another process tries to start while the cache holds the directory and is killed during its attempt,
  // after writing its temporary lock file and before removing it.
  it('leaves only market files after a clean close, even when a starter was killed mid-attempt meanwhile', async () => {
    const dir = await tempDir()
    const cache = await MarketCache.start({ dataDir: dir })
    caches.push(cache)
    await cache.market('shop').addProduct(sample)
    const preload = join(await tempDir(), 'kill-after-lock-exists.cjs')
    await writeFile(
      preload,
      `const fsp = require('node:fs/promises')
      const link = fsp.link
      fsp.link = async (existing, target) => {
        try { return await link(existing, target) } catch (error) {
          // The lock exists: the attempt's temporary lock file is on disk now. Stop for good here.
          if (error.code === 'EEXIST' && String(target).endsWith(${JSON.stringify(LOCK_FILE)})) process.kill(process.pid, 'SIGKILL')
          throw error
        }
      }
      require('node:module').syncBuiltinESMExports()`,
    )
    const [node = '', ...args] = fixtureCommand('check', dir)
    const starter = run([node, '--require', preload, ...args])
    await starter.exited
    expect(starter.child.signalCode).toBe('SIGKILL')
    expect((await readdir(dir)).some((name) => name.startsWith(`${LOCK_FILE}.`))).toBe(true)
    await cache.close()
    const left = await readdir(dir)
    expect(left.filter((name) => !isMarketFile(name))).toEqual([])
  })
})
