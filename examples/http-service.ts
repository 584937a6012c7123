// A small JSON API embedding the cache, as a service would. Run with no arguments, it serves a few
// requests to itself on an ephemeral port and stops via SIGTERM; with --serve it keeps serving:
//   tsx examples/http-service.ts --serve --port 8080 [--data DIR]
// SIGTERM (or Ctrl-C) stops accepting connections, lets requests in flight finish, then closes the
// cache: every write is flushed and the data directory's lock released before the process exits.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { MarketCache, MarketError } from '../src/index.js'

const STATUS: Record<MarketError['code'], number> = {
  VALIDATION: 400,
  PRODUCT_NOT_FOUND: 404,
  INSUFFICIENT_STOCK: 409,
  MAILBOX_FULL: 503,
  CONFLICT: 503,
  CLOSED: 503,
  PERSISTENCE: 503,
  CORRUPT_DATA: 500,
  DATA_DIR_LOCKED: 500,
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  let text = ''
  for await (const chunk of request) {
    text += chunk
    if (text.length > 1_000_000) throw new HttpError(413, 'Body larger than 1 MB')
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, 'Body is not valid JSON')
  }
}

/** Routes one request; resolves to [status, body]. Paths: /markets, /markets/:market/products[/:id[/adjust]]. */
async function route(cache: MarketCache, request: IncomingMessage): Promise<[number, unknown]> {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost')
  const [root, market, collection, id, action, ...rest] = pathname.split('/').slice(1).map(decodeURIComponent)
  const method = request.method ?? 'GET'
  if (root === 'health' && market === undefined) return [200, cache.stats()]
  if (root !== 'markets' || rest.length > 0) throw new HttpError(404, `No route for ${method} ${pathname}`)
  if (market === undefined) return [200, { markets: await cache.markets() }]
  if (collection !== 'products') throw new HttpError(404, `No route for ${method} ${pathname}`)
  const stock = cache.market(market)
  if (id === undefined) {
    if (method === 'GET') return [200, await stock.listProducts()]
    if (method === 'POST') return [201, { id: await stock.addProduct((await readJson(request)) as never) }]
  } else if (action === 'adjust' && method === 'POST') {
    const { delta } = (await readJson(request)) as { delta?: unknown }
    return [200, { quantity: await stock.adjustQuantity(id, delta as number) }]
  } else if (action === undefined) {
    if (method === 'GET') {
      const product = await stock.getProduct(id)
      if (!product) throw new HttpError(404, `Product \`${id}\` not found in market \`${market}\``)
      return [200, { id, ...product }]
    }
    if (method === 'PUT') return [204, await stock.updateProduct(id, (await readJson(request)) as never)]
    if (method === 'DELETE') {
      if (await stock.deleteProduct(id)) return [204, undefined]
      throw new HttpError(404, `Product \`${id}\` not found in market \`${market}\``)
    }
  }
  throw new HttpError(405, `Method ${method} not allowed on ${pathname}`)
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json' }).end(text)
}

/** Starts the service; resolves once it listens, with a `stopped` promise that settles after a graceful shutdown. */
export async function startService(options: { dataDir: string; port: number }) {
  const cache = await MarketCache.start({ dataDir: options.dataDir })
  let stopping = false
  const server = createServer((request, response) => {
    // Keep-alive clients may send one more request while we drain; tell them to go elsewhere.
    if (stopping) return send(response.setHeader('connection', 'close'), 503, { error: 'Shutting down' })
    route(cache, request).then(
      ([status, body]) => send(response, status, body),
      (error: unknown) => {
        if (error instanceof HttpError) return send(response, error.status, { error: error.message })
        if (error instanceof MarketError)
          return send(response, STATUS[error.code], { error: error.message, code: error.code })
        console.error(error)
        send(response, 500, { error: 'Internal error' })
      },
    )
  })
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve))

  const stopped = new Promise<void>((resolve, reject) => {
    const shutdown = (signal: string) => {
      if (stopping) return
      stopping = true
      console.log(`${signal}: draining requests, then closing the cache`)
      server.close(() => cache.close().then(resolve, reject))
      server.closeIdleConnections()
    }
    process.once('SIGTERM', () => shutdown('SIGTERM'))
    process.once('SIGINT', () => shutdown('SIGINT'))
  })
  return { port: (server.address() as AddressInfo).port, stopped }
}

/** The no-argument run: a few requests against itself, then a real SIGTERM. */
async function demo(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'market-system-http-'))
  try {
    const { port, stopped } = await startService({ dataDir, port: 0 })
    const base = `http://127.0.0.1:${port}/markets/${encodeURIComponent("Bob's list")}/products`
    const call = async (method: string, url: string, body?: unknown) => {
      const response = await fetch(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
      const text = await response.text()
      console.log(`${method.padEnd(6)} ${url.slice(url.indexOf('/markets'))} -> ${response.status} ${text}`)
      return text ? JSON.parse(text) : undefined
    }
    const { id } = await call('POST', base, {
      name: 'linguissa',
      quantity: 10,
      expirationDate: '2023-08-08',
      price: 23.45,
    })
    await call('GET', `${base}/${id}`)
    await call('POST', base, { name: 'milk', expirate_date: '2023-08-08' })
    // Twelve overlapping sales of one unit on a stock of ten: exactly ten succeed.
    const sales = await Promise.all(
      Array.from({ length: 12 }, () =>
        fetch(`${base}/${id}/adjust`, { method: 'POST', body: JSON.stringify({ delta: -1 }) }).then((r) => r.status),
      ),
    )
    console.log(
      `12 overlapping sales -> ${sales.filter((s) => s === 200).length} x 200, ${sales.filter((s) => s === 409).length} x 409`,
    )
    await call('GET', `http://127.0.0.1:${port}/markets`)
    await call('DELETE', `${base}/${id}`)

    process.kill(process.pid, 'SIGTERM')
    await stopped
    const locked = existsSync(join(dataDir, '.market-system.lock'))
    console.log(`stopped; lock file ${locked ? 'STILL PRESENT' : 'removed'}`)
    if (locked || sales.filter((s) => s === 200).length !== 10) process.exitCode = 1
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    port: { type: 'string', default: '8080' },
    data: { type: 'string' },
  },
})
if (values.serve) {
  const dataDir = values.data ?? (await mkdtemp(join(tmpdir(), 'market-system-http-')))
  const { port, stopped } = await startService({ dataDir, port: Number(values.port) })
  console.log(`listening on http://127.0.0.1:${port}/markets (data in ${dataDir}); Ctrl-C or SIGTERM to stop`)
  await stopped
} else {
  await demo()
}
