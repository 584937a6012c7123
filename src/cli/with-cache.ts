import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { MarketCache, type MarketCacheOptions } from '../index.js'
import { CliError, ExitCode } from './cli-error.js'

/**
 * Starts a cache on `dataDir`, runs `work`, and always closes the cache, so the lock is released
 * and every write is flushed even when `work` fails.
 *
 * Reading commands pass `create: false`: a mistyped `--data` must report "does not exist"
 * instead of silently creating an empty directory and listing nothing.
 *
 * @example
 * ```ts
 * const names = await withCache('./persist', { create: false }, (cache) => cache.markets())
 * ```
 */
export async function withCache<T>(
  dataDir: string,
  options: { create: boolean } & Pick<MarketCacheOptions, 'generateId'>,
  work: (cache: MarketCache, dir: string) => Promise<T>,
): Promise<T> {
  const { create, ...cacheOptions } = options
  const dir = resolve(dataDir)
  if (!create) await assertDirectory(dir)
  const cache = await MarketCache.start({ ...cacheOptions, dataDir: dir })
  try {
    return await work(cache, dir)
  } finally {
    await cache.close()
  }
}

async function assertDirectory(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  throw new CliError(`Data directory \`${dir}\` does not exist (use --data DIR to choose another).`, ExitCode.notFound)
}
