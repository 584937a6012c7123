import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { type AddressInfo, BlockList, isIP } from 'node:net'
import { createStudioHandler } from '../../studio.js'
import { CliError, ExitCode } from '../cli-error.js'
import type { Command } from '../command.js'
import { commonOptions, expectPositionals, parseCommandArgs, usageError } from '../parse-command-args.js'
import { storageHelp, storageOf, withCache } from '../with-cache.js'

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** Whether `name` (an address, bracketed or not, or a host name) is this machine's loopback: 127.0.0.0/8, ::1, localhost. */
function isLoopback(name: string): boolean {
  const address = name.replace(/^\[(.*)\]$/, '$1')
  if (address.toLowerCase() === 'localhost') return true
  const family = isIP(address)
  // BlockList also matches IPv4-mapped IPv6 addresses (::ffff:127.0.0.2).
  return family !== 0 && LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

/**
 * On a loopback address, only requests addressed to a loopback name are served. A web page can point its own
 * domain at 127.0.0.1 (DNS rebinding) and then pass the studio's same-origin check; its Host header gives it away.
 */
function hostAllowed(req: IncomingMessage): boolean {
  return isLoopback((req.headers.host ?? '').replace(/:\d*$/, ''))
}

function parsePort(text: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text) || port > 65_535)
    throw usageError('studio', `Expected --port to be 0 to 65535, got \`${text}\`.`)
  return port
}

/** `stopped` resolves on the first Ctrl-C (SIGINT) or SIGTERM; either way the handlers are removed by then. */
function catchStopSignals(): { stopped: Promise<void>; release: () => void } {
  let release = () => {}
  const stopped = new Promise<void>((resolve) => {
    release = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
    const stop = () => {
      release()
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  return { stopped, release }
}

async function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  server.listen(port, host)
  try {
    await once(server, 'listening')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const hint = code === 'EADDRINUSE' ? `: port ${port} is in use, choose another with --port` : ''
    throw new CliError(`Cannot listen on ${host}:${port} (${code ?? String(error)})${hint}`, ExitCode.failure)
  }
  return server.address() as AddressInfo
}

/** `market-system studio`: serves the studio on a cache until Ctrl-C or SIGTERM. */
export const studioCommand: Command = {
  name: 'studio',
  summary: 'Serve the studio: see and edit the stock in a browser, live',
  help: `Usage: market-system studio [--data DIR | --database URL] [--host 127.0.0.1] [--port 4321] [--read-only]

Start a cache on DIR (created if missing) or on the PostgreSQL database and serve the studio, a web page
that lists every market and lets you look at and change its products, live. Prints the address to open.
It binds 127.0.0.1 (this machine only) unless --host says otherwise; the studio has no login of its own,
so only bind another address behind your own authentication.
Ctrl-C or SIGTERM stops it and closes the cache: writes are flushed and the lock released.

Options:
${storageHelp}
      --host HOST     address to listen on (default: 127.0.0.1)
      --port PORT     port to listen on, 0 for any free one (default: 4321)
      --read-only     show the stock without any way to change it
  -h, --help          show this help`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs('studio', args, {
      ...commonOptions,
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '4321' },
      'read-only': { type: 'boolean', default: false },
    })
    if (values.help) return void io.stdout.write(`${this.help}\n`)
    expectPositionals('studio', positionals, [])
    const storage = storageOf('studio', values)
    const { host } = values
    const port = parsePort(values.port)
    const readOnly = values['read-only']
    await withCache(storage, { create: true }, async (cache) => {
      const studio = createStudioHandler(cache, { readOnly })
      // Set once listening, from the address actually bound: `--host localhost` or `127.0.0.2` is loopback as well.
      let loopback = true
      const server = createServer((req, res) => {
        if (!loopback || hostAllowed(req)) return studio(req, res)
        res.statusCode = 403
        res.end('The studio answers only to a loopback name here: localhost, 127.x.x.x or [::1].\n')
      })
      // Caught before listening, so a Ctrl-C during start-up still closes the cache instead of killing the process.
      const { stopped, release } = catchStopSignals()
      const address = await listen(server, port, host).catch((error: unknown) => {
        release()
        throw error
      })
      loopback = isLoopback(address.address)
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
      const reach = loopback
        ? `it listens on ${shown} only, a loopback address: nothing outside this machine can reach it (--host to change that).`
        : `it listens on ${shown}: anyone who can reach this machine can use it, and it has no login of its own.`
      io.stdout.write(
        `Studio for ${storage.label}${readOnly ? ' (read-only)' : ''} at http://${shown}:${address.port}/\n` +
          `Note: ${reach}\nPress Ctrl-C to stop.\n`,
      )
      await stopped
      // Open event streams would keep close() waiting for ever; the pages reconnect to the next studio.
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    })
    io.stdout.write('Studio stopped; cache closed.\n')
  },
}
