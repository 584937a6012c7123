import { type StockItem, ValidationError } from '../../index.js'
import { parseMarketName } from '../../product.js'
import { CliError, ExitCode } from '../cli-error.js'
import type { Command } from '../command.js'
import { isExpired, localToday } from '../expiry.js'
import { commonOptions, expectPositionals, parseCommandArgs, usageError } from '../parse-command-args.js'
import { printable, quoted } from '../printable.js'
import { formatTable } from '../table.js'
import { storageHelp, storageOf, withCache } from '../with-cache.js'

/** `market-system show MARKET`: one market's products as a table or JSON. */
export const showCommand: Command = {
  name: 'show',
  summary: "Show one market's products as a table (or --json)",
  help: `Usage: market-system show MARKET [--data DIR | --database URL] [--json]

Show the products of MARKET (its exact name; quote it in the shell) in insertion order:
id, name, quantity, expirationDate, price. Products whose expiration date is before today
(local time) are marked "(expired)".

Options:
${storageHelp}
      --json          print { market, today, products: [{ id, ..., expired }] } instead of a table
  -h, --help          show this help

In the table, an id or name holding a control character (a line break, an escape sequence) is
shown as a JSON string ("milk\n2"); --json gives every value exactly.

Exits with 2 if no market can have that name (empty, too long, a control character), 4 if MARKET
does not exist, 5 if its stored data (file or row) is corrupt.`,

  async run(args, io) {
    const options = { ...commonOptions, json: { type: 'boolean', default: false } } as const
    const { values, positionals } = parseCommandArgs('show', args, options)
    if (values.help) return void io.stdout.write(`${this.help}\n`)
    expectPositionals('show', positionals, ['market'])
    const name = marketNameOf(positionals[0] as string)
    const storage = storageOf('show', values)
    const today = localToday()
    const items = await withCache(storage, { create: false }, async (cache) => {
      // Listed before the load spawns an actor (a live actor's market is listed too).
      const stored = await cache.markets()
      // Load even when not listed: markets() skips a corrupt file, which must be reported as corrupt.
      const products = await cache.market(name).listProducts()
      if (products.length === 0 && !stored.includes(name)) {
        throw new CliError(
          `Market \`${printable(name)}\` not found in \`${storage.label}\`. Run \`market-system markets ${storage.option}\` to list them.`,
          ExitCode.notFound,
        )
      }
      return products.map((product) => ({ ...product, expired: isExpired(product.expirationDate, today) }))
    })
    if (values.json)
      return void io.stdout.write(`${JSON.stringify({ market: name, today, products: items }, null, 2)}\n`)
    io.stdout.write(`${renderMarket(name, today, items)}\n`)
  },
}

/** MARKET as the market-name rule accepts it: no market can have another name, so anything else is a usage error. */
function marketNameOf(text: string): string {
  try {
    return parseMarketName(text)
  } catch (error) {
    if (error instanceof ValidationError)
      throw usageError('show', `No market can be named ${quoted(text)}: ${error.message}`)
    throw error
  }
}

function renderMarket(name: string, today: string, items: (StockItem & { expired: boolean })[]): string {
  const expired = items.filter((item) => item.expired).length
  const title = `Market ${quoted(name)}: ${items.length} product(s), ${expired} expired as of ${today}`
  if (items.length === 0) return title
  // Stored data may hold any string: a line break or an escape sequence in a name must not forge rows.
  const rows = items.map((item) => [
    printable(item.id),
    printable(item.name),
    String(item.quantity),
    item.expired ? `${item.expirationDate} (expired)` : item.expirationDate,
    String(item.price),
  ])
  const table = formatTable(['id', 'name', 'quantity', 'expirationDate', 'price'], rows, [
    'left',
    'left',
    'right',
    'left',
    'right',
  ])
  return `${title}\n\n${table}`
}
