import * as fs from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type FileWrite, writeFilesSync } from '../src/file-database/write-files.js'
import { FaultySyncFileSystem, type WriteFaultStep } from './helpers/faulty-sync-fs.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()

async function filesIn(dir: string, names: string[]): Promise<FileWrite[]> {
  for (const name of names) fs.writeFileSync(join(dir, name), 'old')
  return names.map((name) => ({
    target: join(dir, name),
    temp: join(dir, `${name}.0123456789abcdef.tmp`),
    data: `new ${name}`,
  }))
}

function writeIn(dir: string, seam: FaultySyncFileSystem, files: FileWrite[]) {
  const dirFd = seam.openSync(dir, 'r')
  try {
    return writeFilesSync(seam, dirFd, files, true)
  } finally {
    fs.closeSync(dirFd)
  }
}

describe('writeFilesSync', () => {
  it('replaces every file and leaves no temporary file', async () => {
    const dir = await tempDir()
    const files = await filesIn(dir, ['a.json', 'b.json', 'c.json'])
    expect(writeIn(dir, new FaultySyncFileSystem(dir), files)).toEqual([null, null, null])
    expect(fs.readdirSync(dir).sort()).toEqual(['a.json', 'b.json', 'c.json'])
    expect(fs.readFileSync(join(dir, 'b.json'), 'utf8')).toBe('new b.json')
  })

  describe.each<WriteFaultStep>(['open', 'write', 'shortWrite', 'zeroWrite', 'fsyncFile', 'close', 'rename'])(
    'when %s fails for one file',
    (step) => {
      it('fails only that file, keeps its old content, removes its temp file and renames it only after its fsync succeeded', async () => {
        const dir = await tempDir()
        const files = await filesIn(dir, ['a.json', 'b.json', 'c.json'])
        const seam = new FaultySyncFileSystem(dir)
        seam.arm({ step, code: 'EIO', times: 1, filePrefix: 'b.json' })
        const results = writeIn(dir, seam, files)
        expect(results[0]).toBeNull()
        expect(results[1]).toMatchObject({ code: step === 'zeroWrite' ? 'ENOSPC' : 'EIO' })
        expect(results[2]).toBeNull()
        expect(fs.readFileSync(join(dir, 'a.json'), 'utf8')).toBe('new a.json')
        expect(fs.readFileSync(join(dir, 'b.json'), 'utf8')).toBe('old')
        expect(fs.readFileSync(join(dir, 'c.json'), 'utf8')).toBe('new c.json')
        expect(fs.readdirSync(dir).sort()).toEqual(['a.json', 'b.json', 'c.json'])
        expect(seam.renames.some((from) => from.includes('b.json'))).toBe(step === 'rename')
      })
    },
  )

  it('holds at most 64 descriptors at once however many files it writes, and renames none before its fsync', async () => {
    const dir = await tempDir()
    const names = Array.from({ length: 150 }, (_, i) => `m${i}.json`)
    const files = await filesIn(dir, names)
    const open = new Set<number>()
    const syncedPaths = new Set<string>()
    const paths = new Map<number, string>()
    let most = 0
    const seam = new (class extends FaultySyncFileSystem {
      override openSync(path: string, flags: string): number {
        const fd = super.openSync(path, flags)
        if (path !== dir) {
          open.add(fd)
          paths.set(fd, path)
          most = Math.max(most, open.size)
        }
        return fd
      }
      override fdatasyncSync(fd: number): void {
        super.fdatasyncSync(fd)
        syncedPaths.add(paths.get(fd) as string)
      }
      override closeSync(fd: number): void {
        open.delete(fd)
        super.closeSync(fd)
      }
      override renameSync(from: string, to: string): void {
        expect(syncedPaths.has(from)).toBe(true)
        super.renameSync(from, to)
      }
    })(dir)
    expect(writeIn(dir, seam, files)).toEqual(names.map(() => null))
    expect(most).toBe(64)
    expect(open.size).toBe(0)
    expect(syncedPaths.size).toBe(150)
    expect(fs.readdirSync(dir).sort()).toEqual([...names].sort())
    expect(fs.readFileSync(join(dir, 'm149.json'), 'utf8')).toBe('new m149.json')
  })

  it('fails every renamed file when the directory fsync fails, since none is known durable', async () => {
    const dir = await tempDir()
    const files = await filesIn(dir, ['a.json', 'b.json'])
    const seam = new FaultySyncFileSystem(dir)
    seam.arm({ step: 'fsyncDir', code: 'EIO', times: 1 })
    expect(writeIn(dir, seam, files)).toEqual([
      expect.objectContaining({ code: 'EIO' }),
      expect.objectContaining({ code: 'EIO' }),
    ])
  })

  it('writes nothing durable and fsyncs nothing with fsync off, yet replaces each file whole', async () => {
    const dir = await tempDir()
    const files = await filesIn(dir, ['a.json'])
    const seam = new FaultySyncFileSystem(dir)
    seam.arm({ step: 'fsyncFile', code: 'EIO', times: 1 })
    seam.arm({ step: 'fsyncDir', code: 'EIO', times: 1 })
    expect(writeFilesSync(seam, -1, files, false)).toEqual([null])
    expect(seam.injected).toEqual([])
    expect(fs.readFileSync(join(dir, 'a.json'), 'utf8')).toBe('new a.json')
  })
})
