import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { type Database, FileDatabase, MarketCache, type MarketCacheOptions } from '../index.js'
import { openDatabase } from '../market-cache.js'
import { CliError, ExitCode } from './cli-error.js'
import { checkDatabaseUrl, redact } from './database-url.js'
import { usageError } from './parse-command-args.js'

/**
 * Where a command's markets live: a data directory (`--data DIR`) or a PostgreSQL database (`--database URL`).
 * `label` names it in messages (a URL's password replaced by `***`); `option` is how to ask for it again.
 */
export type Storage =
  | { kind: 'directory'; dir: string; label: string; option: string }
  | { kind: 'postgres'; url: string; label: string; option: string }

/** The lines every command's help shows for `--data` and `--database`. */
export const storageHelp = `  -d, --data DIR      data directory (default: ./persist)
      --database URL  a PostgreSQL database (postgres://user@host/db) instead of a data directory`

/**
 * Reads `--data` and `--database` from parsed options: at most one of them, `./persist` when neither.
 * @throws {CliError} a usage error when both are given, or the URL is not one pg can use (see `checkDatabaseUrl`).
 * @example
 * ```ts
 * storageOf('markets', { database: 'postgres://shop@db/stock' }) // { kind: 'postgres', ... }
 * ```
 */
export function storageOf(
  command: string,
  values: { data?: string | undefined; database?: string | undefined },
): Storage {
  if (values.data !== undefined && values.database !== undefined) {
    throw usageError(command, 'Give --data DIR or --database URL, not both.')
  }
  if (values.database === undefined) {
    const dir = resolve(values.data ?? './persist')
    return { kind: 'directory', dir, label: dir, option: `--data ${JSON.stringify(dir)}` }
  }
  checkDatabaseUrl(command, values.database)
  const label = redact(values.database)
  return { kind: 'postgres', url: values.database, label, option: `--database '${label}'` }
}

/**
 * The `Database` behind `storage`, not yet opened. Commands that only read pass `create: false`: a mistyped
 * `--data` must report "does not exist" instead of silently creating an empty directory and listing nothing.
 * On PostgreSQL a mistyped database name fails to connect; `open()` creates only the table, as every instance does.
 */
export async function databaseFor(storage: Storage, { create }: { create: boolean }): Promise<Database> {
  if (storage.kind === 'directory') {
    if (!create) await assertDirectory(storage.dir)
    return new FileDatabase({ dir: storage.dir })
  }
  try {
    // Imported only here, so `pg` (an optional peer dependency) is needed only by those who ask for it.
    const { PostgresDatabase } = await import('../postgres.js')
    return new PostgresDatabase({ connectionString: storage.url })
  } catch (error) {
    if (isMissingPg(error)) {
      throw new CliError(
        '--database needs the PostgreSQL driver, which is not installed: npm install pg',
        ExitCode.failure,
      )
    }
    throw error
  }
}

function isMissingPg(error: unknown): boolean {
  const { code, message } = error as NodeJS.ErrnoException
  return (
    ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /['"]pg['"]/.test(message ?? '')) ||
    (typeof message === 'string' && message.includes('npm install pg'))
  )
}

/**
 * Opens the database behind `storage`, runs `work`, and always closes it (releasing a directory's lock),
 * also when `work` fails. For commands that need the `Database` itself rather than a cache (`import`).
 */
export async function withDatabase<T>(
  storage: Storage,
  options: { create: boolean },
  work: (database: Database) => Promise<T>,
): Promise<T> {
  const database = await databaseFor(storage, options)
  try {
    await openDatabase(database)
  } catch (error) {
    await closeWithin(storage, () => database.close(), { failed: true }).catch(() => {})
    throw error
  }
  let result: T
  try {
    result = await work(database)
  } catch (error) {
    await closeWithin(storage, () => database.close(), { failed: false }).catch(() => {})
    throw error
  }
  await closeWithin(storage, () => database.close(), { failed: false })
  return result
}

/**
 * Starts a cache on `storage`, runs `work`, and always closes the cache, so the lock is released
 * and every write is flushed even when `work` fails. `work` also gets the cache's `Database`, to name
 * where a market is stored (`locate`).
 *
 * @example
 * ```ts
 * const storage = storageOf('markets', values)
 * const names = await withCache(storage, { create: false }, (cache) => cache.markets())
 * ```
 */
export async function withCache<T>(
  storage: Storage,
  options: { create: boolean } & Pick<MarketCacheOptions, 'idleTimeoutMs' | 'maxMailbox'>,
  work: (cache: MarketCache, database: Database) => Promise<T>,
): Promise<T> {
  const { create, ...cacheOptions } = options
  const database = await databaseFor(storage, { create })
  let cache: MarketCache
  try {
    cache = await MarketCache.start({ ...cacheOptions, database })
  } catch (error) {
    // A database that failed to open may still hold a connection pool; the cache never owned it.
    await closeWithin(storage, () => database.close(), { failed: true }).catch(() => {})
    throw error
  }
  let result: T
  try {
    result = await work(cache, database)
  } catch (error) {
    await closeWithin(storage, () => cache.close(), { failed: false }).catch(() => {})
    throw error
  }
  await closeWithin(storage, () => cache.close(), { failed: false })
  return result
}

/** How long a command waits for a database connection to close before it gives up on it. */
const CLOSE_TIMEOUT_MS = 10_000

/**
 * Runs `close`, giving up after `CLOSE_TIMEOUT_MS` where nothing of value can be lost by it: after a failed
 * open (nothing was written), and on PostgreSQL (a write is done once its query returns; only sockets are
 * left). A file backend's close after work is awaited in full: it flushes writes and releases the lock.
 * @throws {CliError} (exit 1) when it gave up, or what `close` threw.
 */
export async function closeWithin(storage: Storage, close: () => Promise<void>, { failed }: { failed: boolean }) {
  if (storage.kind === 'directory' && !failed) return close()
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS)
  })
  try {
    if ((await Promise.race([close(), timedOut])) !== 'timeout') return
  } finally {
    clearTimeout(timer)
  }
  // The pool left behind keeps its sockets open, and with them the process: once the message is out, exit.
  setTimeout(() => process.exit(), 1_000).unref()
  throw new CliError(
    `Could not close the connection to ${storage.label} within ${CLOSE_TIMEOUT_MS / 1000} s; exiting without it.`,
    ExitCode.failure,
  )
}

async function assertDirectory(dir: string): Promise<void> {
  let isDirectory = false
  try {
    isDirectory = (await stat(dir)).isDirectory()
  } catch (error) {
    // ENOTDIR: a part of the path is a file (`backup.json/persist`); as missing as a directory can be.
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error
    throw new CliError(
      `Data directory \`${dir}\` does not exist (use --data DIR to choose another).`,
      ExitCode.notFound,
    )
  }
  if (!isDirectory) {
    throw new CliError(
      `Data directory \`${dir}\` is not a directory (use --data DIR to choose another).`,
      ExitCode.notFound,
    )
  }
}
