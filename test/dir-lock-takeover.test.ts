import { describe, expect, it } from 'vitest'
import { LOCK_FILE } from '../src/file-database/dir-lock.js'
import { textKey } from '../src/file-database/lock-file.js'
import { DataDirLockedError } from '../src/index.js'
import { MemoryFileSystem } from './helpers/lock-memory-fs.js'
import { type Acquire, deadOwner, type Exploration, explore } from './helpers/lock-scheduler.js'

const setUp = async (files: Record<string, string>) => {
  const dir = '/data'
  const fs = new MemoryFileSystem(dir)
  for (const [name, text] of Object.entries(files)) fs.put(`${dir}/${name}`, text)
  return { fs, dir }
}

const staleLock = deadOwner(900, 'dead-owner')
const states: [string, Record<string, string>][] = [
  ['an empty directory', {}],
  ['a lock whose owner died', { [LOCK_FILE]: staleLock }],
  [
    'a dead lock, a guard left by a taker that crashed, and a guard of the old format',
    {
      [LOCK_FILE]: staleLock,
      [`${LOCK_FILE}.takeover-${textKey(staleLock)}`]: deadOwner(901, 'dead-taker'),
      [`${LOCK_FILE}.takeover`]: deadOwner(902, 'old-format-taker'),
    },
  ],
  ['an empty lock file left by a power loss', { [LOCK_FILE]: '' }],
]

const run = (files: Record<string, string>, bounds: Omit<Exploration, 'setUp' | 'files'>) =>
  explore({ ...bounds, setUp, files })

// Every schedule within the bounds is run; a schedule pauses each starter before each call to the
// file-system seam (open, read, link, rename, unlink, readdir). The property checks are in `explore`.
describe('DirLock takeover, over every interleaving within bounds', () => {
  it.each(states)('gives the lock to at most one of two starters at a time, from %s', async (_state, files) => {
    const report = await run(files, { starters: 2, preemptions: 3, crashes: 0 })
    expect(report.violations).toEqual([])
    expect(report.schedules).toBeGreaterThan(150)
  })

  it.each(states)(
    'lets no crash of one of two starters, at any step, make two owners or block a later start, from %s',
    async (_state, files) => {
      const report = await run(files, { starters: 2, preemptions: 2, crashes: 1 })
      expect(report.violations).toEqual([])
      expect(report.schedules).toBeGreaterThan(700)
    },
  )

  it.each(states.slice(1, 3))(
    'lets no I/O error of one of two starters, at any step, make two owners or block a later start, from %s',
    async (_state, files) => {
      const report = await run(files, { starters: 2, preemptions: 2, crashes: 0, faults: 1 })
      expect(report.violations).toEqual([])
      expect(report.schedules).toBeGreaterThan(700)
    },
  )

  it('keeps three starters and a crash to one owner, from a dead lock', async () => {
    const report = await run(states[1]?.[1] ?? {}, { starters: 3, preemptions: 1, crashes: 1 })
    expect(report.violations).toEqual([])
    expect(report.schedules).toBeGreaterThan(5000)
  })
})

describe('the interleaving explorer', () => {
  it("catches a takeover that removes a dead lock after reading it, and so can remove a live owner's", async () => {
    const report = await run(states[1]?.[1] ?? {}, { starters: 2, preemptions: 2, crashes: 0, acquire: readThenUnlink })
    expect(report.violations.join('\n')).toMatch(/two live owners|starter \d holds, the lock file reads/)
  })
})

/** The check-then-act takeover the guards exist to prevent. */
const readThenUnlink: Acquire = async (fs, dir, processes) => {
  const path = `${dir}/${LOCK_FILE}`
  const owner = { ...processes.self(), token: String(Math.random()) }
  for (;;) {
    const handle = await fs.open(`${path}.${owner.token}.tmp`, 'wx')
    await handle.write(new TextEncoder().encode(JSON.stringify(owner)), 0, JSON.stringify(owner).length, 0)
    await handle.close()
    try {
      await fs.link(`${path}.${owner.token}.tmp`, path)
      await fs.unlink(`${path}.${owner.token}.tmp`)
      return { release: () => fs.unlink(path) }
    } catch {
      await fs.unlink(`${path}.${owner.token}.tmp`)
      const current = JSON.parse(await fs.readFile(path, 'utf8').catch(() => 'null'))
      if (current && (await processes.isAlive(current))) throw new DataDirLockedError(dir, current.pid)
      if (current) await fs.unlink(path).catch(() => {})
    }
  }
}
