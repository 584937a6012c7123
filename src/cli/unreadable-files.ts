import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The documented market file name: an optional lowercase slug, then 32 hex chars of SHA-256 of the name. */
const MARKET_FILE = /(?:^|-)([0-9a-f]{32})\.json$/

/** A market file that no listed market accounts for, and why it could not be read. */
export interface UnreadableFile {
  file: string
  reason: string
}

/**
 * Market files in `dir` that belong to none of `names`.
 *
 * `cache.markets()` skips a file it cannot read (it cannot know whose it is), which is right for a
 * registry but wrong for a backup: `export` and `markets` use this to fail loudly instead of
 * silently leaving a market out.
 *
 * @example
 * ```ts
 * const unreadable = await findUnreadableFiles(dir, await cache.markets())
 * ```
 */
export async function findUnreadableFiles(dir: string, names: readonly string[]): Promise<UnreadableFile[]> {
  const known = new Set(names.map((name) => createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 32)))
  const unreadable: UnreadableFile[] = []
  for (const fileName of (await readdir(dir)).sort()) {
    const hash = MARKET_FILE.exec(fileName)?.[1]
    if (hash === undefined || known.has(hash)) continue
    const file = join(dir, fileName)
    unreadable.push({ file, reason: await whyUnreadable(file) })
  }
  return unreadable
}

async function whyUnreadable(file: string): Promise<string> {
  let value: unknown
  try {
    value = JSON.parse(await readFile(file, 'utf8'))
  } catch (error) {
    return error instanceof SyntaxError ? 'not valid JSON' : `cannot be read (${(error as Error).message})`
  }
  const market = (value as { market?: unknown } | null)?.market
  return typeof market === 'string' ? `names market \`${market}\`, which maps to another file` : 'names no market'
}
