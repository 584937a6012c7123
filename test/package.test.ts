import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
// Built beside node_modules so the bundles resolve zod as an installed package would; never into the repo's dist,
// which a concurrent build may be replacing.
const outDir = join(root, 'node_modules', '.cache', `market-system-build-${process.pid}`)

beforeAll(async () => {
  const tsup = createRequire(import.meta.url).resolve('tsup/dist/cli-default.js')
  execFileSync(process.execPath, [tsup, '--out-dir', outDir, '--silent'], { cwd: root, stdio: 'pipe' })
  return () => rm(outDir, { recursive: true, force: true })
}, 120_000)

const story = `
  const dir = DIR
  const cache = await MarketCache.start({ dataDir: dir })
  const id = await cache.market("Bob's list").addProduct({ name: 'linguissa', quantity: 5, expirationDate: '2023-08-08', price: 23.45 })
  const product = await cache.market("Bob's list").getProduct(id)
  await cache.close()
  console.log(JSON.stringify(product))
`

async function withDir<T>(run: (dir: string) => T): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'market-system-pkg-'))
  try {
    return run(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const expected = { name: 'linguissa', quantity: 5, expirationDate: '2023-08-08', price: 23.45 }

describe('published builds', () => {
  it('loads with require() from a plain CommonJS script, nanoid included', async () => {
    const output = await withDir((dir) =>
      execFileSync(
        process.execPath,
        [
          '-e',
          `const { MarketCache } = require(${JSON.stringify(join(outDir, 'index.cjs'))});
           (async () => { ${story.replace('DIR', JSON.stringify(dir))} })()`,
        ],
        { encoding: 'utf8' },
      ),
    )
    expect(JSON.parse(output)).toEqual(expected)
    // nanoid 5 is ESM-only: the CommonJS bundle must carry it rather than require() it.
    expect(await readFile(join(outDir, 'index.cjs'), 'utf8')).not.toMatch(/require\(["']nanoid["']\)/)
  })

  it('loads with import from ESM', async () => {
    const output = await withDir((dir) =>
      execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { MarketCache } from ${JSON.stringify(join(outDir, 'index.js'))}
           ${story.replace('DIR', JSON.stringify(dir))}`,
        ],
        { encoding: 'utf8' },
      ),
    )
    expect(JSON.parse(output)).toEqual(expected)
  })

  it('loads with require() in the Node REPL', () => {
    const result = spawnSync(process.execPath, ['--interactive'], {
      input: `const m = require(${JSON.stringify(join(outDir, 'index.cjs'))}); console.log('exports', Object.keys(m).length, typeof m.MarketCache.start)\n.exit\n`,
      encoding: 'utf8',
    })
    expect(result.stdout).toContain('exports 14 function')
  })
})
