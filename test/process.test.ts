import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LOCK_FILE } from '../src/file-database/dir-lock.js'
import { DataDirLockedError, MarketCache } from '../src/index.js'
import { useChildren } from './helpers/child.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const spawnChild = useChildren()

describe('one owner per data directory', () => {
  it('refuses a second cache on the same directory in the same process until the first closes', async () => {
    const dir = await tempDir()
    const first = await MarketCache.start({ dataDir: dir })
    const error = await MarketCache.start({ dataDir: dir }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DataDirLockedError)
    expect(error).toMatchObject({ code: 'DATA_DIR_LOCKED', ownerPid: process.pid })
    await first.close()
    const second = await MarketCache.start({ dataDir: dir })
    await second.close()
    expect(await readdir(dir)).toEqual([])
  })

  it('refuses a directory owned by another live process', async () => {
    const dir = await tempDir()
    const owner = spawnChild('hold', dir)
    await owner.waitFor((line) => line === 'ready')
    await expect(MarketCache.start({ dataDir: dir })).rejects.toMatchObject({
      name: 'DataDirLockedError',
      ownerPid: owner.process.pid,
    })
  })

  it('makes another process fail with DataDirLockedError while this one owns the directory', async () => {
    const dir = await tempDir()
    const cache = await MarketCache.start({ dataDir: dir })
    const intruder = spawnChild('hold', dir)
    const { code } = await intruder.exited
    expect(code).not.toBe(0)
    expect(intruder.stderr()).toContain('DataDirLockedError')
    await cache.close()
  })

  it('takes over at once the lock of an owner killed with SIGKILL', async () => {
    const dir = await tempDir()
    const owner = spawnChild('hold', dir)
    await owner.waitFor((line) => line === 'ready')
    expect(await readdir(dir)).toContain(LOCK_FILE)
    owner.process.kill('SIGKILL')
    await owner.exited
    const cache = await MarketCache.start({ dataDir: dir })
    await cache.market('m').addProduct(sample)
    await cache.close()
  })
})

describe('durability across processes', () => {
  it('finds in a new process everything a closed cache stored', async () => {
    const dir = await tempDir()
    const cache = await MarketCache.start({ dataDir: dir })
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.market(`m${i % 5}`).addProduct(sample)))
    await cache.close()
    const checker = spawnChild('check', dir)
    await checker.exited
    const found = JSON.parse(checker.lines.at(-1) ?? '{}') as Record<string, string[]>
    expect(Object.keys(found).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
    expect(Object.values(found).flat().sort()).toEqual([...ids].sort())
  })

  it('keeps every acknowledged change when the writing process is killed with SIGKILL', async () => {
    const dir = await tempDir()
    for (let round = 0; round < 3; round++) {
      const writer = spawnChild('write', dir, '4')
      await writer.waitFor((line) => line === 'ready')
      const target = 100 + round * 37
      await writer.waitFor(() => writer.lines.length > target)
      writer.process.kill('SIGKILL')
      await writer.exited
      const acknowledged = writer.lines
        .filter((line) => line.startsWith('ack '))
        .map((line) => {
          const rest = line.slice(4)
          const split = rest.lastIndexOf(' ')
          return { market: JSON.parse(rest.slice(0, split)) as string, id: rest.slice(split + 1) }
        })
      expect(acknowledged.length).toBeGreaterThan(target - 1)

      for (const file of await readdir(dir)) {
        if (file.endsWith('.json')) JSON.parse(await readFile(join(dir, file), 'utf8'))
      }
      // Starting here also proves the dead writer's lock is taken over without a manual step.
      const cache = await MarketCache.start({ dataDir: dir })
      for (const { market, id } of acknowledged) {
        expect(await cache.market(market).getProduct(id), `${market} ${id}`).toBeDefined()
      }
      await cache.close()
    }
  })
})
