import { readFile } from 'node:fs/promises'
import { isSharedDatabase } from '../../database.js'
import { type Database, MarketCache, type Product, type Snapshot, type StockItem } from '../../index.js'
import { CliError, ExitCode } from '../cli-error.js'
import type { Command } from '../command.js'
import { deferStopSignals, exitCodeFor } from '../defer-signals.js'
import { type ExportDocument, parseExportDocument } from '../export-document.js'
import type { Io } from '../io.js'
import { commonOptions, expectPositionals, parseCommandArgs } from '../parse-command-args.js'
import { quoted } from '../printable.js'
import { storageHelp, storageOf, withDatabase } from '../with-cache.js'

/** `market-system import FILE`: the inverse of `export`. */
export const importCommand: Command = {
  name: 'import',
  summary: 'Load markets from an export document (FILE, or - for stdin)',
  help: `Usage: market-system import FILE [--data DIR | --database URL] [--replace]

Load the markets of an export document (see \`market-system export --help\`) into DIR (or the
database), keeping product ids and order. FILE may be - to read stdin, so
  market-system export --data ./persist | market-system import - --database postgres://host/db
moves a data directory into PostgreSQL. DIR is created if missing. Markets in DIR that the
document does not name are left as they are.

All or nothing: the whole document is validated, and every market it names is read from DIR,
before anything is written. A market that already exists is not touched unless --replace is
given; then its products are replaced by the document's. Each market is written whole, in one
store, so it is never half imported. Ctrl-C or SIGTERM while markets are written lets every write
finish, then exits 130 (143 for SIGTERM); a second Ctrl-C stops at once, leaving the import partial
(the same command with --replace finishes it). Ids that look like array indices ("7") are kept; such
products list first (in numeric order), as they did in the data the export came from.

Options:
${storageHelp}
      --replace       overwrite markets that already exist
  -h, --help          show this help

Exits with 4 if FILE does not exist, 5 if a market it names is corrupt in DIR, 6 if the document
is invalid (also: not UTF-8), 7 if a market exists and --replace was not given: in all of these,
nothing is written.`,

  async run(args, io) {
    const options = { ...commonOptions, replace: { type: 'boolean', default: false } } as const
    const { values, positionals } = parseCommandArgs('import', args, options)
    if (values.help) return void io.stdout.write(`${this.help}\n`)
    expectPositionals('import', positionals, ['file'])
    const storage = storageOf('import', values)
    const source = positionals[0] as string
    const document = await readDocument(source, io)
    await withDatabase(storage, { create: true }, async (database) => {
      const revisions = await storedRevisions(
        database,
        document.markets.map(({ name }) => name),
      )
      if (revisions.size > 0 && !values.replace) {
        const names = [...revisions.keys()].map(quoted).join(', ')
        throw new CliError(
          `Nothing imported: ${revisions.size} market(s) already exist in \`${storage.label}\`: ${names}.\nPass --replace to overwrite them.`,
          ExitCode.conflict,
        )
      }
      // Ctrl-C or SIGTERM now would leave part of the document written: every write is let finish first.
      const deferred = deferStopSignals({
        onFirst: (signal) =>
          io.stderr.write(
            `market-system import: ${signal} received: finishing the writes first (each market is written whole), then exiting. Press Ctrl-C again to stop at once, leaving the import partial.\n`,
          ),
        onSecond: (signal) =>
          io.stderr.write(
            `market-system import: ${signal} received again: stopped. Markets written so far stay; run the same command with --replace to finish.\n`,
          ),
      })
      try {
        await writeMarkets(database, document, revisions)
      } finally {
        deferred.release()
      }
      for (const { name, products } of document.markets) {
        const verb = revisions.has(name) ? 'replaced' : 'created'
        io.stdout.write(`${verb} ${quoted(name)}: ${products.length} product(s)\n`)
      }
      const total = document.markets.reduce((sum, { products }) => sum + products.length, 0)
      io.stdout.write(`Imported ${document.markets.length} market(s), ${total} product(s) into ${storage.label}\n`)
      if (deferred.signal !== undefined) {
        throw new CliError(
          `Interrupted (${deferred.signal}) after every market of the document was written.`,
          exitCodeFor(deferred.signal),
        )
      }
    })
  },
}

/**
 * The stored revision of each of `names` that exists. Every one is first loaded through a cache, so data
 * that fails validation is a `CorruptDataError` (exit 5) found by the same code as any load, and found
 * before anything is written, never overwritten unseen.
 */
async function storedRevisions(database: Database, names: readonly string[]): Promise<Map<string, number>> {
  const cache = await MarketCache.start({ database: borrowed(database) })
  try {
    await Promise.all(names.map((name) => cache.market(name).listProducts()))
  } finally {
    await cache.close()
  }
  const revisions = new Map<string, number>()
  for (const name of names) {
    const stored = (await database.get(name)) as Snapshot | undefined
    if (stored !== undefined) revisions.set(name, stored.revision)
  }
  return revisions
}

/** `database` for a cache that must leave it open: the import writes through it once the cache is done. */
function borrowed(database: Database): Database {
  const locate = database.locate?.bind(database)
  return {
    open: async () => database.open?.(),
    get: (market) => database.get(market),
    store: (market, snapshot) => database.store(market, snapshot),
    markets: () => database.markets(),
    close: async () => {},
    ...(locate ? { locate } : {}),
  }
}

/**
 * Stores each market as one snapshot, one revision past the stored one, with the document's ids as they are:
 * through `addProduct` an id like `7` would be refused, though stored data may hold it. On a shared database
 * each store is conditional on the revision read above, so a change another process made since is never
 * overwritten. A store that fails anyway (I/O, or such a change) leaves the others written: reported, exit 1.
 */
async function writeMarkets(database: Database, document: ExportDocument, revisions: Map<string, number>) {
  const shared = isSharedDatabase(database) ? database : undefined
  const outcomes = await Promise.allSettled(
    document.markets.map(async ({ name, products }) => {
      const revision = revisions.get(name) ?? 0
      const snapshot: Snapshot = { format: 1, market: name, revision: revision + 1, products: byId(products) }
      if (shared === undefined) return database.store(name, snapshot)
      if (!(await shared.storeIf(name, snapshot, revision)))
        throw new Error('another process changed it while the import ran')
    }),
  )
  const failed = outcomes.flatMap((outcome, index) =>
    outcome.status === 'rejected'
      ? [`  ${quoted(document.markets[index]?.name ?? '')}: ${(outcome.reason as Error).message ?? outcome.reason}`]
      : [],
  )
  if (failed.length === 0) return
  throw new CliError(
    `Import incomplete: ${outcomes.length - failed.length} of ${outcomes.length} market(s) written; these were not:\n${failed.join('\n')}\nEach market is written whole or not at all; run the same command with --replace to finish.`,
    ExitCode.failure,
  )
}

/** Products keyed by id in document order; defined, not assigned, so an id such as `__proto__` is kept as data. */
function byId(items: readonly StockItem[]): Record<string, Product> {
  const products: Record<string, Product> = {}
  for (const { id, ...product } of items) {
    Object.defineProperty(products, id, { value: product, enumerable: true, writable: true, configurable: true })
  }
  return products
}

async function readDocument(source: string, io: Io): Promise<ExportDocument> {
  let bytes: Uint8Array
  try {
    bytes = source === '-' ? await readAll(io.stdin) : await readFile(source)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(`Import file \`${source}\` does not exist.`, ExitCode.notFound)
    }
    throw error
  }
  let text: string
  try {
    // Fatal: a lenient decode would import U+FFFD in place of every character of a Latin-1 file.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new CliError(
      `Import file \`${source}\` is not UTF-8 text (JSON must be): convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8.`,
      ExitCode.invalidInput,
    )
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new CliError(
      `Import file \`${source}\` is not valid JSON: ${(error as Error).message}`,
      ExitCode.invalidInput,
    )
  }
  const parsed = parseExportDocument(value)
  if (Array.isArray(parsed)) {
    const shown = parsed.slice(0, 20).map((problem) => `  ${problem}`)
    if (parsed.length > shown.length) shown.push(`  ... and ${parsed.length - shown.length} more`)
    throw new CliError(`Invalid import document \`${source}\`:\n${shown.join('\n')}`, ExitCode.invalidInput)
  }
  return parsed
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks)
}
