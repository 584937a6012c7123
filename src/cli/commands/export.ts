import { CorruptDataError } from '../../index.js'
import { CliError, ExitCode } from '../cli-error.js'
import type { Command } from '../command.js'
import { EXPORT_FORMAT, type ExportDocument } from '../export-document.js'
import { commonOptions, expectPositionals, parseCommandArgs } from '../parse-command-args.js'
import { quoted } from '../printable.js'
import { findUnreadable, formatUnreadable, splitInvalidNames, type Unreadable } from '../unreadable-files.js'
import { storageHelp, storageOf, withCache } from '../with-cache.js'

/** Markets loaded at once: enough to share round trips, few enough not to flood the database with loads. */
const LOAD_SLICE = 64

/** `market-system export`: every market as one JSON document on stdout. */
export const exportCommand: Command = {
  name: 'export',
  summary: 'Write every market as one JSON document to stdout',
  help: `Usage: market-system export [--data DIR | --database URL] > backup.json

Write every market in DIR (or the database), with its products (ids included, in order), as one
JSON document:
  { "format": ${EXPORT_FORMAT}, "markets": [{ "name": "...", "products": [{ "id", "name", "quantity", "expirationDate", "price" }] }] }
\`market-system import\` reads it back. Nothing is written to stdout unless every market was read,
so a corrupt file or row never yields a backup that silently lacks a market.

Options:
${storageHelp}
  -h, --help          show this help

Exits with 5 if a market's stored data (file or row) is corrupt; every such market is named.`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs('export', args, commonOptions)
    if (values.help) return void io.stdout.write(`${this.help}\n`)
    expectPositionals('export', positionals, [])
    const storage = storageOf('export', values)
    const document = await withCache(storage, { create: false }, async (cache, database) => {
      const listed = await cache.markets()
      const { valid: names, unreadable: invalid } = splitInvalidNames(storage, database, listed)
      const unreadable: Unreadable[] = [...invalid, ...(await findUnreadable(storage, listed))]
      const markets: ExportDocument['markets'] = []
      // Loaded a slice at a time: on a shared database, reads waiting together share one revision check.
      for (let start = 0; start < names.length; start += LOAD_SLICE) {
        const slice = names.slice(start, start + LOAD_SLICE)
        const loaded = await Promise.allSettled(slice.map((name) => cache.market(name).listProducts()))
        for (const [index, outcome] of loaded.entries()) {
          const name = slice[index] as string
          if (outcome.status === 'fulfilled') markets.push({ name, products: outcome.value })
          // Every corrupt market is named at once, so one run tells the user everything to repair.
          else if (outcome.reason instanceof CorruptDataError)
            unreadable.push({
              where: outcome.reason.location ?? `market ${quoted(name)}`,
              reason: outcome.reason.message,
            })
          else throw outcome.reason
        }
      }
      if (unreadable.length > 0) {
        throw new CliError(
          `Nothing exported: ${unreadable.length} market(s) cannot be read:\n${formatUnreadable(unreadable)}`,
          ExitCode.corrupt,
        )
      }
      return { format: EXPORT_FORMAT, markets } satisfies ExportDocument
    })
    io.stdout.write(`${JSON.stringify(document, null, 2)}\n`)
  },
}
