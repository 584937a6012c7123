import { homedir } from 'node:os'
import { join } from 'node:path'
import * as repl from 'node:repl'
import * as api from '../index.js'

/**
 * Where REPL history is kept unless `MARKET_SYSTEM_REPL_HISTORY` says otherwise ('' turns it off, like `NODE_REPL_HISTORY`).
 * @example
 * ```ts
 * replHistoryFile({ MARKET_SYSTEM_REPL_HISTORY: '' }) // undefined: no history
 * ```
 */
export function replHistoryFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const configured = env.MARKET_SYSTEM_REPL_HISTORY
  if (configured === undefined) return join(homedir(), '.market_system_history')
  return configured.trim() === '' ? undefined : configured
}

/** What `runRepl` needs: a started cache, where it lives (a directory or a redacted URL), and the terminal. */
export interface ReplOptions {
  cache: api.MarketCache
  where: string
  historyFile: string | undefined
  input: NodeJS.ReadableStream
  output: NodeJS.WritableStream
}

/**
 * Runs a Node REPL with the library and a started `cache` in scope; resolves when the user leaves it
 * (`.exit`, Ctrl-D, Ctrl-C twice, SIGTERM or SIGHUP). The caller closes the cache afterwards, which
 * flushes every write and releases the data directory.
 *
 * @example
 * ```ts
 * const cache = await MarketCache.start({ dataDir: './persist' })
 * await runRepl({ cache, where: './persist', historyFile: replHistoryFile(), input: process.stdin, output: process.stdout })
 * await cache.close()
 * ```
 */
export async function runRepl({ cache, where, historyFile, input, output }: ReplOptions): Promise<void> {
  output.write(
    `market-system REPL on ${where}\n` +
      'In scope: cache (started), MarketCache, FileDatabase, MarketStock, productSchema and the error classes.\n' +
      `Top-level await works: await cache.market("Bob's list").listProducts()\n` +
      '.exit or Ctrl-D closes the cache: writes are flushed and the lock released.\n',
  )
  const server = repl.start({ prompt: 'market> ', input, output })
  const scope = { ...api, cache }
  Object.assign(server.context, scope)
  // `.clear` replaces the context; the user still expects `cache` to be there.
  server.on('reset', (context) => Object.assign(context, scope))

  const exited = new Promise<void>((resolve) => server.once('exit', resolve))
  // A closed terminal or a service manager's stop must still release the lock.
  const stop = () => server.close()
  process.once('SIGTERM', stop)
  process.once('SIGHUP', stop)
  if (historyFile !== undefined) {
    server.setupHistory(historyFile, (error) => {
      if (error) output.write(`(REPL history disabled: ${error.message})\n`)
    })
  }
  try {
    await exited
  } finally {
    process.off('SIGTERM', stop)
    process.off('SIGHUP', stop)
  }
}
