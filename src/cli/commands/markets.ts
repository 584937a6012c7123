import { CliError, ExitCode } from '../cli-error.js'
import type { Command } from '../command.js'
import { commonOptions, expectPositionals, parseCommandArgs } from '../parse-command-args.js'
import { findUnreadable, formatUnreadable } from '../unreadable-files.js'
import { storageHelp, storageOf, withCache } from '../with-cache.js'

/** `market-system markets`: the names of every stored market, one per line. */
export const marketsCommand: Command = {
  name: 'markets',
  summary: 'List the stored markets, one name per line',
  help: `Usage: market-system markets [--data DIR | --database URL]

List the name of every market stored in DIR (or the database), one per line, sorted.
Market names cannot contain line breaks, so each line is exactly one name.

Options:
${storageHelp}
  -h, --help          show this help

Exits with 5 (after listing the readable markets) if a market file cannot be read.`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs('markets', args, commonOptions)
    if (values.help) return void io.stdout.write(`${this.help}\n`)
    expectPositionals('markets', positionals, [])
    const storage = storageOf('markets', values)
    const { names, unreadable } = await withCache(storage, { create: false }, async (cache) => {
      const names = await cache.markets()
      return { names, unreadable: await findUnreadable(storage, names) }
    })
    // Printed once the cache is closed, so a reader that stops early (`| head`) never leaves the lock behind.
    for (const name of names) io.stdout.write(`${name}\n`)
    if (unreadable.length > 0) {
      throw new CliError(
        `${unreadable.length} market file(s) cannot be read and are not listed:\n${formatUnreadable(unreadable)}`,
        ExitCode.corrupt,
      )
    }
  },
}
