import { CliError, ExitCode } from '../cli-error.js'
import type { Command } from '../command.js'
import { commonOptions, expectPositionals, parseCommandArgs } from '../parse-command-args.js'
import { printable } from '../printable.js'
import { findUnreadable, formatUnreadable, splitInvalidNames } from '../unreadable-files.js'
import { storageHelp, storageOf, withCache } from '../with-cache.js'

/** `market-system markets`: the names of every stored market, one per line. */
export const marketsCommand: Command = {
  name: 'markets',
  summary: 'List the stored markets, one name per line',
  help: `Usage: market-system markets [--data DIR | --database URL]

List the name of every market stored in DIR (or the database), one per line, sorted.
Each line is exactly one name: a name holding a character that a terminal or a line splitter
acts on (U+2028 LINE SEPARATOR, U+2029, a bidirectional override), or starting with ", is
printed as a JSON string ("Anna\u2028Bob"); every other name is printed as it is.

Options:
${storageHelp}
  -h, --help          show this help

Exits with 5 (after listing the readable markets) if a market file cannot be read, or a file or
row holds a name the market-name rule refuses; each is named.`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs('markets', args, commonOptions)
    if (values.help) return void io.stdout.write(`${this.help}\n`)
    expectPositionals('markets', positionals, [])
    const storage = storageOf('markets', values)
    const { valid, unreadable } = await withCache(storage, { create: false }, async (cache, database) => {
      const names = await cache.markets()
      const { valid, unreadable } = splitInvalidNames(storage, database, names)
      return { valid, unreadable: [...unreadable, ...(await findUnreadable(storage, names))] }
    })
    // Printed once the cache is closed, so a reader that stops early (`| head`) never leaves the lock behind.
    for (const name of valid) io.stdout.write(`${printable(name)}\n`)
    if (unreadable.length > 0) {
      throw new CliError(
        `${unreadable.length} stored market(s) cannot be read and are not listed:\n${formatUnreadable(unreadable)}`,
        ExitCode.corrupt,
      )
    }
  },
}
