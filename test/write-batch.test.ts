import * as fs from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type BatchItem, type SyncFileSystem, writeBatchSync } from '../src/file-database/write-batch.js'
import { faultySyncFs, type SyncFaultStep } from './helpers/faulty-sync-fs.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()

async function batchIn(dir: string, names: string[]): Promise<BatchItem[]> {
  for (const name of names) fs.writeFileSync(join(dir, name), 'old')
  return names.map((name) => ({
    target: join(dir, name),
    temp: join(dir, `${name}.0123456789abcdef.tmp`),
    data: `new ${name}`,
  }))
}

describe('writeBatchSync', () => {
  it('replaces every file of the batch and leaves no temporary file', async () => {
    const dir = await tempDir()
    const items = await batchIn(dir, ['a.json', 'b.json', 'c.json'])
    const dirFd = fs.openSync(dir, 'r')
    expect(writeBatchSync(fs, dirFd, items, true)).toEqual([null, null, null])
    fs.closeSync(dirFd)
    expect(fs.readdirSync(dir).sort()).toEqual(['a.json', 'b.json', 'c.json'])
    expect(fs.readFileSync(join(dir, 'b.json'), 'utf8')).toBe('new b.json')
  })

  describe.each<SyncFaultStep>(['open', 'write', 'fsyncFile', 'close', 'rename'])(
    'when %s fails for one file',
    (step) => {
      it('fails only that file, keeps its old content, removes its temp file and never renames it after a failed fsync', async () => {
        const dir = await tempDir()
        const items = await batchIn(dir, ['a.json', 'b.json', 'c.json'])
        const renames: string[] = []
        const dirFd = fs.openSync(dir, 'r')
        const results = writeBatchSync(faultySyncFs(step, 'EIO', 'b.json', renames), dirFd, items, true)
        fs.closeSync(dirFd)
        expect(results[0]).toBeNull()
        expect(results[1]).toMatchObject({ code: 'EIO' })
        expect(results[2]).toBeNull()
        expect(fs.readFileSync(join(dir, 'a.json'), 'utf8')).toBe('new a.json')
        expect(fs.readFileSync(join(dir, 'b.json'), 'utf8')).toBe('old')
        expect(fs.readFileSync(join(dir, 'c.json'), 'utf8')).toBe('new c.json')
        expect(fs.readdirSync(dir).sort()).toEqual(['a.json', 'b.json', 'c.json'])
        if (step !== 'rename') expect(renames.some((from) => from.includes('b.json'))).toBe(false)
      })
    },
  )

  it('fails every renamed file when the directory fsync fails, since none is known durable', async () => {
    const dir = await tempDir()
    const items = await batchIn(dir, ['a.json', 'b.json'])
    const broken: SyncFileSystem = {
      ...faultySyncFs('open', 'EIO', 'nothing'),
      fsyncSync: () => {
        throw Object.assign(new Error('EIO: fsync'), { code: 'EIO' })
      },
    }
    const dirFd = fs.openSync(dir, 'r')
    const results = writeBatchSync(broken, dirFd, items, true)
    fs.closeSync(dirFd)
    expect(results).toEqual([expect.objectContaining({ code: 'EIO' }), expect.objectContaining({ code: 'EIO' })])
  })

  it('reports a write that makes no progress as ENOSPC instead of looping', async () => {
    const dir = await tempDir()
    const items = await batchIn(dir, ['a.json'])
    const stuck: SyncFileSystem = { ...faultySyncFs('open', 'EIO', 'nothing'), writeSync: () => 0 }
    const dirFd = fs.openSync(dir, 'r')
    expect(writeBatchSync(stuck, dirFd, items, true)).toEqual([expect.objectContaining({ code: 'ENOSPC' })])
    fs.closeSync(dirFd)
    expect(fs.readdirSync(dir)).toEqual(['a.json'])
  })
})
