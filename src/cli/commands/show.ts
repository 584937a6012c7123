import type { StockItem } from '../../index.js'
import { CliError, ExitCode } from '../cli-error.js'
import type { Command } from '../command.js'
import { isExpired, localToday } from '../expiry.js'
import { commonOptions, expectPositionals, parseCommandArgs } from '../parse-command-args.js'
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

Exits with 4 if MARKET does not exist, 5 if its stored data (file or row) is corrupt.`,

  async run(args, io) {
    const options = { ...commonOptions, json: { type: 'boolean', default: false } } as const
    const { values, positionals } = parseCommandArgs('show', args, options)
    if (values.help) return void io.stdout.write(`${this.help}\n`)
    expectPositionals('show', positionals, ['market'])
    const name = positionals[0] as string
    const storage = storageOf('show', values)
    const today = localToday()
    const items = await withCache(storage, { create: false }, async (cache) => {
      // Listed before the load spawns an actor (a live actor's market is listed too).
      const stored = await cache.markets()
      // Load even when not listed: markets() skips a corrupt file, which must be reported as corrupt.
      const products = await cache.market(name).listProducts()
      if (products.length === 0 && !stored.includes(name)) {
        throw new CliError(
          `Market \`${name}\` not found in \`${storage.label}\`. Run \`market-system markets ${storage.option}\` to list them.`,
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

function renderMarket(name: string, today: string, items: (StockItem & { expired: boolean })[]): string {
  const expired = items.filter((item) => item.expired).length
  const title = `Market ${JSON.stringify(name)}: ${items.length} product(s), ${expired} expired as of ${today}`
  if (items.length === 0) return title
  const rows = items.map((item) => [
    item.id,
    item.name,
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
