import { describe, expect, it } from 'vitest'
import { fileNameFor, isMarketFile, isTempFile, tempNameFor } from '../src/file-database/file-names.js'

const hostile = ['../x', '/etc/passwd', 'a/b', 'a\\b', '.', '..', 'CON', 'con', 'NUL', 'Bob', 'bob', '🍎'.repeat(100)]

describe('fileNameFor', () => {
  it.each(hostile)('maps %j to a plain file name inside the directory', (name) => {
    const file = fileNameFor(name)
    expect(file).toMatch(/^[a-z0-9-]*[0-9a-f]{32}\.json$/)
    expect(file).not.toContain('/')
    expect(file.startsWith('.')).toBe(false)
    expect(Buffer.byteLength(file)).toBeLessThanOrEqual(255)
    expect(isMarketFile(file)).toBe(true)
  })

  it('gives distinct names distinct files even when the file system folds case', () => {
    const folded = hostile.map((name) => fileNameFor(name).toLowerCase())
    expect(new Set(folded).size).toBe(hostile.length)
  })

  it('keeps Windows device names from being the whole stem', () => {
    expect(fileNameFor('CON')).toMatch(/^con-[0-9a-f]{32}\.json$/)
  })

  it('is stable: the same name always maps to the same file', () => {
    expect(fileNameFor("Bob's list")).toBe('bob-s-list-35515153c48bd9d01c57a1ca30bffa80.json')
  })

  it('tells temporary files from market files', () => {
    const temp = tempNameFor(fileNameFor('m'))
    expect(isTempFile(temp)).toBe(true)
    expect(isMarketFile(temp)).toBe(false)
    expect(isTempFile(fileNameFor('m'))).toBe(false)
    expect(tempNameFor('x')).not.toBe(tempNameFor('x'))
  })
})
