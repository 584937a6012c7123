import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The documented market file name: an optional lowercase slug, then 32 hex chars of a hash of the name. */
const MARKET_FILE = /(?:^|-)[0-9a-f]{32}\.json$/

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
 * silently leaving a market out. Files are matched by the name stored inside them, not by
 * recomputing the file-name hash, so this never drifts from `FileDatabase`'s mapping.
 *
 * @example
 * ```ts
 * const unreadable = await findUnreadableFiles(dir, await cache.markets())
 * ```
 */
export async function findUnreadableFiles(dir: string, names: readonly string[]): Promise<UnreadableFile[]> {
  const unclaimed = new Set(names)
  const unreadable: UnreadableFile[] = []
  for (const fileName of (await readdir(dir)).sort()) {
    if (!MARKET_FILE.test(fileName)) continue
    const file = join(dir, fileName)
    const market = await storedMarket(file)
    if (typeof market === 'string' && unclaimed.delete(market)) continue
    const reason =
      typeof market === 'object'
        ? market.reason
        : names.includes(market)
          ? `a second file for market \`${market}\``
          : `names market \`${market}\`, which maps to another file`
    unreadable.push({ file, reason })
  }
  return unreadable
}

async function storedMarket(file: string): Promise<string | { reason: string }> {
  let value: unknown
  try {
    value = JSON.parse(await readFile(file, 'utf8'))
  } catch (error) {
    return { reason: error instanceof SyntaxError ? 'not valid JSON' : `cannot be read (${(error as Error).message})` }
  }
  const market = (value as { market?: unknown } | null)?.market
  return typeof market === 'string' ? market : { reason: 'names no market' }
}
