import { CliError, ExitCode } from '../cli-error.js'
import type { Command } from '../command.js'
import { EXPORT_FORMAT, type ExportDocument } from '../export-document.js'
import { commonOptions, expectPositionals, parseCommandArgs } from '../parse-command-args.js'
import { findUnreadableFiles } from '../unreadable-files.js'
import { withCache } from '../with-cache.js'

/** `market-system export`: every market as one JSON document on stdout. */
export const exportCommand: Command = {
  name: 'export',
  summary: 'Write every market as one JSON document to stdout',
  help: `Usage: market-system export [--data DIR] > backup.json

Write every market in DIR, with its products (ids included, in order), as one JSON document:
  { "format": ${EXPORT_FORMAT}, "markets": [{ "name": "...", "products": [{ "id", "name", "quantity", "expirationDate", "price" }] }] }
\`market-system import\` reads it back. Nothing is written to stdout unless every market was read,
so a corrupt file never yields a backup that silently lacks a market.

Options:
  -d, --data DIR  data directory (default: ./persist)
  -h, --help      show this help

Exits with 5 if a market file is corrupt.`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs('export', args, commonOptions)
    if (values.help) return void io.stdout.write(`${this.help}\n`)
    expectPositionals('export', positionals, [])
    const document = await withCache(values.data, { create: false }, async (cache, dir) => {
      const names = await cache.markets()
      const unreadable = await findUnreadableFiles(dir, names)
      if (unreadable.length > 0) {
        throw new CliError(
          `Nothing exported: ${unreadable.length} market file(s) cannot be read:\n${unreadable.map(({ file, reason }) => `  ${file}: ${reason}`).join('\n')}`,
          ExitCode.corrupt,
        )
      }
      const markets: ExportDocument['markets'] = []
      for (const name of names) markets.push({ name, products: await cache.market(name).listProducts() })
      return { format: EXPORT_FORMAT, markets } satisfies ExportDocument
    })
    io.stdout.write(`${JSON.stringify(document, null, 2)}\n`)
  },
}
