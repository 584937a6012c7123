import type { Command } from '../command.js'
import { commonOptions, expectPositionals, parseCommandArgs } from '../parse-command-args.js'
import { replHistoryFile, runRepl } from '../repl.js'
import { storageHelp, storageOf, withCache } from '../with-cache.js'

/** `market-system repl`: a Node REPL with a started cache in scope. */
export const replCommand: Command = {
  name: 'repl',
  summary: 'Open a Node REPL with a started `cache` on the data directory or database',
  help: `Usage: market-system repl [--data DIR | --database URL]

Open a Node REPL with the library in scope (MarketCache, FileDatabase, MarketStock, productSchema,
the error classes) and \`cache\`, a MarketCache already started on DIR (created if missing) or on
the PostgreSQL database. Top-level await works:
  market> const id = await cache.market("Bob's list").addProduct({ name: 'linguissa', quantity: 5, expirationDate: '2023-08-08', price: 23.45 })
While the REPL runs on DIR it holds DIR's lock, so other processes get "locked" (exit code 3);
on a database, other processes keep working beside it.
.exit, Ctrl-D, Ctrl-C twice or SIGTERM close the cache: writes are flushed and the lock released.

History is kept in ~/.market_system_history; set MARKET_SYSTEM_REPL_HISTORY to another file,
or to an empty string to keep none.

Options:
${storageHelp}
  -h, --help          show this help`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs('repl', args, commonOptions)
    if (values.help) return void io.stdout.write(`${this.help}\n`)
    expectPositionals('repl', positionals, [])
    const storage = storageOf('repl', values)
    await withCache(storage, { create: true }, (cache) =>
      runRepl({ cache, where: storage.label, historyFile: replHistoryFile(), input: io.stdin, output: io.stdout }),
    )
  },
}
