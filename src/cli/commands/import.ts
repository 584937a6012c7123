import { readFile } from 'node:fs/promises'
import { ValidationError } from '../../index.js'
import { CliError, ExitCode } from '../cli-error.js'
import type { Command } from '../command.js'
import { type ExportDocument, parseExportDocument } from '../export-document.js'
import type { Io } from '../io.js'
import { commonOptions, expectPositionals, parseCommandArgs } from '../parse-command-args.js'
import { withCache } from '../with-cache.js'

/** Calls in flight per market at once: well under the default `maxMailbox` (10 000), yet enough for group commit. */
const BATCH = 1000

/** `market-system import FILE`: the inverse of `export`. */
export const importCommand: Command = {
  name: 'import',
  summary: 'Load markets from an export document (FILE, or - for stdin)',
  help: `Usage: market-system import FILE [--data DIR] [--replace]

Load the markets of an export document (see \`market-system export --help\`) into DIR, keeping
product ids and order. FILE may be - to read stdin, so
  market-system export --data a | market-system import - --data b
copies a data directory. DIR is created if missing. Markets in DIR that the document does not
name are left as they are.

The whole document is validated before anything is written. A market that already exists in
DIR is not touched unless --replace is given; then its products are replaced by the document's.
Each product is written durably, but a market is not replaced atomically: if the import is
interrupted, run the same command with --replace again.

Options:
  -d, --data DIR  data directory (default: ./persist)
      --replace   overwrite markets that already exist
  -h, --help      show this help

Exits with 4 if FILE does not exist, 5 if a market file in DIR is corrupt, 6 if the document is
invalid, 7 if a market exists and --replace was not given (then nothing is written).`,

  async run(args, io) {
    const options = { ...commonOptions, replace: { type: 'boolean', default: false } } as const
    const { values, positionals } = parseCommandArgs('import', args, options)
    if (values.help) return void io.stdout.write(`${this.help}\n`)
    expectPositionals('import', positionals, ['file'])
    const source = positionals[0] as string
    const document = await readDocument(source, io)

    // Ids come from the document: the cache asks for one synchronously in each addProduct call.
    let nextId: string | undefined
    const generateId = () => {
      if (nextId === undefined) throw new Error('market-system import: no product id queued (a bug)')
      const id = nextId
      nextId = undefined
      return id
    }
    await withCache(values.data, { create: true, generateId }, async (cache, dir) => {
      const stocks = document.markets.map(({ name }, index) => {
        try {
          return cache.market(name)
        } catch (error) {
          if (!(error instanceof ValidationError)) throw error
          throw new CliError(
            `Invalid import document \`${source}\`:\n  markets[${index}].name: ${error.message}`,
            ExitCode.invalidInput,
          )
        }
      })
      const existing = new Set(await cache.markets())
      // Reading every target first surfaces a corrupt market file before anything is written.
      const current = await Promise.all(stocks.map((stock) => stock.listProducts()))
      const conflicts = document.markets.filter(({ name }) => existing.has(name)).map(({ name }) => name)
      if (conflicts.length > 0 && !values.replace) {
        throw new CliError(
          `Nothing imported: ${conflicts.length} market(s) already exist in \`${dir}\`: ${conflicts.map((name) => JSON.stringify(name)).join(', ')}.\nPass --replace to overwrite them.`,
          ExitCode.conflict,
        )
      }
      for (const [index, { name, products }] of document.markets.entries()) {
        const stock = stocks[index] as (typeof stocks)[number]
        const replaced = current[index] ?? []
        await inBatches(replaced, (item) => stock.deleteProduct(item.id))
        await inBatches(products, async ({ id, ...product }) => {
          nextId = id
          const added = await stock.addProduct(product)
          if (added !== id)
            throw new Error(`market-system import: product \`${id}\` was stored as \`${added}\` (a bug)`)
        })
        const verb = existing.has(name) ? 'replaced' : 'created'
        io.stdout.write(`${verb} ${JSON.stringify(name)}: ${products.length} product(s)\n`)
      }
      const total = document.markets.reduce((sum, { products }) => sum + products.length, 0)
      io.stdout.write(`Imported ${document.markets.length} market(s), ${total} product(s) into ${dir}\n`)
    })
  },
}

async function readDocument(source: string, io: Io): Promise<ExportDocument> {
  let text: string
  try {
    text = source === '-' ? await readAll(io.stdin) : await readFile(source, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(`Import file \`${source}\` does not exist.`, ExitCode.notFound)
    }
    throw error
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

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks).toString('utf8')
}

/** Runs `task` over `items` with at most `BATCH` in flight, in order, so a mailbox never overflows. */
async function inBatches<T>(items: readonly T[], task: (item: T) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < items.length; start += BATCH) {
    await Promise.all(items.slice(start, start + BATCH).map(task))
  }
}
