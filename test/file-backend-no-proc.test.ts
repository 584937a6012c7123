import type * as fs from 'node:fs'
import { readdir } from 'node:fs/promises'
import { hostname } from 'node:os'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { thisProcess } from '../src/file-database/lock-file.js'
import { FileDatabase } from '../src/index.js'
import { useTempDirs } from './helpers/temp-dir.js'

/** While set, /proc cannot be read, as on macOS or Windows, or with /proc hidden. */
const proc = vi.hoisted(() => ({ hidden: false }))

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof fs>()
  const readFileSync = ((path: fs.PathOrFileDescriptor, options?: unknown) => {
    if (proc.hidden && String(path).startsWith('/proc/')) {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' })
    }
    return real.readFileSync(path, options as fs.ObjectEncodingOptions)
  }) as typeof real.readFileSync
  return { ...real, readFileSync, default: { ...real, readFileSync } }
})

const tempDir = useTempDirs()
afterEach(() => {
  proc.hidden = false
})

describe('the directory lock on a system without /proc', () => {
  it('records this process without a start time', () => {
    proc.hidden = true
    expect(thisProcess.self()).toEqual({ pid: process.pid, host: hostname(), started: undefined })
  })

  it('never takes over from a live process, having no start time to tell a recycled pid by', async () => {
    const owner = { pid: process.ppid, host: hostname(), started: '1', token: 'token' }
    expect(await thisProcess.isAlive(owner)).toBe(false)
    proc.hidden = true
    expect(await thisProcess.isAlive(owner)).toBe(true)
  })

  it('stores a market and reads it back after a restart', async () => {
    proc.hidden = true
    const dir = await tempDir()
    const snapshot = { format: 1, market: 'Anna', revision: 1, products: {} }
    const writer = new FileDatabase({ dir })
    await writer.store('Anna', snapshot)
    await writer.close()
    const reader = new FileDatabase({ dir })
    expect(await reader.get('Anna')).toEqual(snapshot)
    await reader.close()
    expect(await readdir(dir)).toHaveLength(1)
  })
})
