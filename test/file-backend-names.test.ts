import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it, vi } from 'vitest'
import { run } from '../src/cli/run.js'
import { fileNameFor } from '../src/file-database/file-names.js'
import { FileDatabase } from '../src/index.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()

/**
 * The file-name module, loaded afresh: which names are market or temporary files is decided by module-level
 * patterns, and a mutation tool's mutant of one is active only in a module loaded while the test runs. Only this
 * module is reloaded, so that no other module's constants count as tested here.
 */
async function freshFileNames() {
  vi.resetModules()
  return (await import('../src/file-database/file-names.js')) as typeof import('../src/file-database/file-names.js')
}

/** Runs `market-system ...args` in this process and collects what it prints. */
async function marketSystem(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out: string[] = []
  const err: string[] = []
  stdout.on('data', (chunk) => out.push(String(chunk)))
  stderr.on('data', (chunk) => err.push(String(chunk)))
  const code = await run(args, { stdin: new PassThrough(), stdout, stderr })
  return { code, stdout: out.join(''), stderr: err.join('') }
}

const snapshot = (market: string) => ({ format: 1, market, revision: 1, products: {} })

describe('the files the backend names', () => {
  it('stores a market in the file the README names, so files that earlier versions wrote are found', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir })
    await database.store("Bob's list", snapshot("Bob's list"))
    await database.close()
    expect(await readdir(dir)).toEqual(['bob-s-list-35515153c48bd9d01c57a1ca30bffa80.json'])
  })
})

describe('files in the data directory that are not the backend’s own', () => {
  it('lists the markets without reporting a stray file that only contains a market file’s name', async () => {
    const dir = await tempDir()
    const database = new FileDatabase({ dir })
    // A name with no ASCII letter or digit has a file name of the hash alone.
    for (const market of ["Bob's list", '🍎']) await database.store(market, snapshot(market))
    await database.close()
    const file = fileNameFor("Bob's list")
    // macOS leaves `._` files beside those it copies to other file systems; editors leave `.name` and `name.bak`.
    const strays = [`._${file}`, `.${file}`, `Copy of ${file}`, `${file}.bak`]
    for (const stray of strays) await writeFile(join(dir, stray), 'not JSON')

    expect(await marketSystem(['markets', '--data', dir])).toEqual({
      code: 0,
      stdout: "Bob's list\n🍎\n",
      stderr: '',
    })
  })

  it('still reports an unreadable file named as a market file', async () => {
    const dir = await tempDir()
    const file = fileNameFor('Anna')
    await writeFile(join(dir, file), 'not JSON')

    const { code, stdout, stderr } = await marketSystem(['markets', '--data', dir])
    expect({ code, stdout }).toEqual({ code: 5, stdout: '' })
    expect(stderr).toBe(
      `market-system markets: 1 stored market(s) cannot be read and are not listed:\n  ${join(dir, file)}: not valid JSON\n`,
    )
  })

  it('keeps, when it opens and closes the directory, files that merely contain a temporary file’s suffix', async () => {
    const dir = await tempDir()
    const file = fileNameFor('Anna')
    const kept = [`${file}.0123456789abcdef.tmp.gz`, 'notes.0123456789abcdef.tmpl', `${file}.0123456789abcdef.tmp~`]
    for (const name of kept) await writeFile(join(dir, name), 'kept')
    await writeFile(join(dir, `${file}.0123456789abcdef.tmp`), 'a write a crash cut short')

    const database = new FileDatabase({ dir })
    await database.open()
    expect((await readdir(dir)).sort()).toEqual(['.market-system.lock', ...kept].sort())
    await database.close()
    expect((await readdir(dir)).sort()).toEqual([...kept].sort())
  })
})

describe('the patterns of market and temporary file names', () => {
  it('match a whole market file name, with or without a slug, and nothing around it', async () => {
    const names = await freshFileNames()
    const bob = names.fileNameFor("Bob's list")
    expect(bob).toBe('bob-s-list-35515153c48bd9d01c57a1ca30bffa80.json')
    const apple = names.fileNameFor('🍎')
    expect(apple).toMatch(/^[0-9a-f]{32}\.json$/)
    for (const name of [bob, apple, names.fileNameFor('a'), names.fileNameFor('x-y-z')]) {
      expect(names.isMarketFile(name), name).toBe(true)
    }
    for (const name of [`._${bob}`, `.${bob}`, `Copy of ${bob}`, `${bob}.bak`, 'bob-s-list-3551.json', 'x.json']) {
      expect(names.isMarketFile(name), name).toBe(false)
    }
  })

  it('match a whole temporary file name and nothing that merely contains its suffix', async () => {
    const names = await freshFileNames()
    const temp = names.tempNameFor(names.fileNameFor('Anna'))
    expect(names.isTempFile(temp)).toBe(true)
    expect(names.isTempFile('x.json.0123456789abcdef.tmp')).toBe(true)
    for (const name of [`${temp}.gz`, `${temp}~`, 'x.json.0123456789abcdeg.tmp', 'x.json.a.tmp', 'x.json.tmp']) {
      expect(names.isTempFile(name), name).toBe(false)
    }
  })
})
