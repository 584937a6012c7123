import { describe, expect, it } from 'vitest'
import { fileNameFor, isMarketFile } from '../src/file-database/file-names.js'

describe('fileNameFor, the readable part of a file name', () => {
  it('keeps at most the first 48 characters of a long name', () => {
    const file = fileNameFor('a'.repeat(300))
    expect(file).toMatch(/^a{48}-[0-9a-f]{32}\.json$/)
    expect(isMarketFile(file)).toBe(true)
  })

  it('turns each run of other characters into a single dash and drops them at either end', () => {
    expect(fileNameFor('  Hello,   World!!  ')).toMatch(/^hello-world-[0-9a-f]{32}\.json$/)
  })
})
