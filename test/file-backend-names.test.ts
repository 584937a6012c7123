import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it, vi } from 'vitest'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()

/**
 * The file backend and the CLI, loaded afresh for each test: which names are market or temporary files is
 * decided by module-level patterns, and a mutation tool's mutant of one is active only in a module loaded
 * while the test runs.
 */
async function load() {
  vi.resetModules()
  const { run } = await import('../src/cli/run.js')
  const { fileNameFor } = await import('../src/file-database/file-names.js')
  const { FileDatabase } = await import('../src/index.js')
  return { run, fileNameFor, FileDatabase }
}

/** Runs `market-system ...args` in this process and collects what it prints. */
async function marketSystem(
  run: Awaited<ReturnType<typeof load>>['run'],
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
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
    const { FileDatabase } = await load()
    const dir = await tempDir()
    const database = new FileDatabase({ dir })
    await database.store("Bob's list", snapshot("Bob's list"))
    await database.close()
    expect(await readdir(dir)).toEqual(['bob-s-list-35515153c48bd9d01c57a1ca30bffa80.json'])
  })
})

describe('files in the data directory that are not the backend’s own', () => {
  it('lists the markets without reporting a stray file that only contains a market file’s name', async () => {
    const { run, fileNameFor, FileDatabase } = await load()
    const dir = await tempDir()
    const database = new FileDatabase({ dir })
    // A name with no ASCII letter or digit has a file name of the hash alone.
    for (const market of ["Bob's list", '🍎']) await database.store(market, snapshot(market))
    await database.close()
    const file = fileNameFor("Bob's list")
    // macOS leaves `._` files beside those it copies to other file systems; editors leave `.name` and `name.bak`.
    const strays = [`._${file}`, `.${file}`, `Copy of ${file}`, `${file}.bak`]
    for (const stray of strays) await writeFile(join(dir, stray), 'not JSON')

    expect(await marketSystem(run, ['markets', '--data', dir])).toEqual({
      code: 0,
      stdout: "Bob's list\n🍎\n",
      stderr: '',
    })
  })

  it('still reports an unreadable file named as a market file', async () => {
    const { run, fileNameFor } = await load()
    const dir = await tempDir()
    const file = fileNameFor('Anna')
    await writeFile(join(dir, file), 'not JSON')

    const { code, stdout, stderr } = await marketSystem(run, ['markets', '--data', dir])
    expect({ code, stdout }).toEqual({ code: 5, stdout: '' })
    expect(stderr).toBe(
      `market-system markets: 1 stored market(s) cannot be read and are not listed:\n  ${join(dir, file)}: not valid JSON\n`,
    )
  })

  it('keeps, when it opens and closes the directory, files that merely contain a temporary file’s suffix', async () => {
    const { fileNameFor, FileDatabase } = await load()
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
