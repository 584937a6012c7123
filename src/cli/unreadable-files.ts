import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Database } from '../database.js'
import { fileNameFor, isMarketFile } from '../file-database/file-names.js'
import { ValidationError } from '../index.js'
import { parseMarketName } from '../product.js'
import { printable, quoted } from './printable.js'
import type { Storage } from './with-cache.js'

/** Stored data that no listed market accounts for (`where`: a file path), and why it could not be read. */
export interface Unreadable {
  where: string
  reason: string
}

/**
 * Stored data in `storage` that belongs to none of `names` (what `cache.markets()` listed).
 *
 * `cache.markets()` skips a market file it cannot read (it cannot know whose it is), which is right for a
 * registry but wrong for a backup: `export` and `markets` use this to fail loudly instead of silently
 * leaving a market out. Which files are market files, and which file is whose, is the file backend's own
 * mapping (`isMarketFile`, `fileNameFor`), so this never drifts from it.
 *
 * A PostgreSQL table has no such data: each row is keyed by its market's name, so `markets()` lists every
 * row. A row whose snapshot fails validation is reported when its market loads (`CorruptDataError`).
 *
 * @example
 * ```ts
 * const unreadable = await findUnreadable(storage, await cache.markets())
 * ```
 */
export async function findUnreadable(storage: Storage, names: readonly string[]): Promise<Unreadable[]> {
  if (storage.kind !== 'directory') return []
  const claimed = new Set(names.map(fileNameFor))
  const unreadable: Unreadable[] = []
  for (const fileName of (await readdir(storage.dir)).sort()) {
    if (!isMarketFile(fileName) || claimed.has(fileName)) continue
    const where = join(storage.dir, fileName)
    unreadable.push({ where, reason: await whyUnclaimed(where) })
  }
  return unreadable
}

/**
 * Splits what `cache.markets()` listed into the names the market-name rule accepts and stored data under a
 * name it refuses (empty, too long, a control character: a file or row a tool or an older version wrote).
 * Such a market cannot be loaded or named on a command line, and its name must not reach the terminal raw:
 * it is reported as unreadable, by where it is stored and its name escaped.
 *
 * @example
 * ```ts
 * const { valid, unreadable } = splitInvalidNames(storage, database, await cache.markets())
 * ```
 */
export function splitInvalidNames(
  storage: Storage,
  database: Database,
  names: readonly string[],
): { valid: string[]; unreadable: Unreadable[] } {
  const valid: string[] = []
  const unreadable: Unreadable[] = []
  for (const name of names) {
    try {
      valid.push(parseMarketName(name))
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error
      const where =
        storage.kind === 'directory'
          ? join(storage.dir, fileNameFor(name))
          : (database.locate?.(quoted(name)) ?? `market ${quoted(name)}`)
      unreadable.push({ where, reason: `names market ${quoted(name)}, which breaks the market-name rule` })
    }
  }
  return { valid, unreadable }
}

/** Lines of a message listing `unreadable`, one per item. */
export function formatUnreadable(unreadable: readonly Unreadable[]): string {
  return unreadable.map(({ where, reason }) => `  ${where}: ${reason}`).join('\n')
}

async function whyUnclaimed(file: string): Promise<string> {
  let value: unknown
  try {
    value = JSON.parse(await readFile(file, 'utf8'))
  } catch (error) {
    return error instanceof SyntaxError ? 'not valid JSON' : `cannot be read (${(error as Error).message})`
  }
  const market = (value as { market?: unknown } | null)?.market
  return typeof market === 'string'
    ? `names market \`${printable(market)}\`, which maps to another file`
    : 'names no market'
}
