import type { IncomingMessage, ServerResponse } from 'node:http'
import { ClosedError } from '../errors.js'
import type { MarketCache } from '../index.js'
import * as api from './api.js'
import { ASSET_FILES, type AssetName, type AssetSource, pageHtml } from './assets.js'
import { sendFailure } from './failure.js'
import { LiveEvents } from './live-events.js'
import type { ResolvedStudioOptions } from './options.js'
import { RequestError } from './request-error.js'
import { refusalOf } from './request-guard.js'
import { parseQuery, segmentsOf, splitTarget } from './request-target.js'
import { methodNotAllowed, send, sendError, setSecurityHeaders } from './respond.js'

/**
 * A Node/Express-style request handler: `next` is called for requests outside the studio's base path.
 * It never throws: whatever goes wrong is answered (or, once the answer has begun, the connection is cut).
 * @example
 * ```ts
 * http.createServer((req, res) => studio(req, res, () => res.writeHead(404).end()))
 * ```
 */
export type StudioHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void

const READS = new Set(['GET', 'HEAD'])

/** Answers an error thrown or rejected while serving; a failure to answer cuts the connection instead. */
function fail(res: ServerResponse, error: unknown, field: string | undefined): void {
  try {
    if (res.headersSent) return void res.destroy()
    // Closing the connection lets a host's server.close() finish once the cache is closed.
    if ((error as { code?: unknown } | undefined)?.code === 'CLOSED') res.setHeader('Connection', 'close')
    if (error instanceof RequestError) {
      if (error.status === 413) res.setHeader('Connection', 'close')
      sendError(res, error.status, error.code, error.message, error.field)
    } else {
      sendFailure(res, error, field)
    }
  } catch {
    res.destroy()
  }
}

/**
 * The one value of query parameter `name`. Names and ids travel in the query, not the path: a browser resolves
 * a path segment `.` or `..` (even written `%2E`) before sending, so a market named `..` could not be reached.
 */
function param(query: string, name: 'market' | 'id'): string {
  const values = parseQuery(query)
  if (values === undefined) throw new RequestError(400, 'BAD_REQUEST', 'Malformed percent-encoding in the query')
  const found = values.get(name) ?? []
  if (found.length !== 1) {
    throw new RequestError(400, 'VALIDATION', `Expected one \`${name}\` query parameter, got ${found.length}`, name)
  }
  return found[0] as string
}

/**
 * @internal
 * The handler behind `createStudioHandler`, with its assets passed in (tests serve a fresh build of them).
 */
export function studioHandler(cache: MarketCache, options: ResolvedStudioOptions, assets: AssetSource): StudioHandler {
  const { prefix, readOnly } = options
  const live = new LiveEvents(cache)
  const page = pageHtml(options)

  async function route(req: IncomingMessage, res: ServerResponse, rest: string, query: string): Promise<void> {
    const method = req.method ?? 'GET'
    if (rest === '') {
      // The page uses relative URLs, so it must be served at the base path with its trailing slash.
      res.statusCode = 308
      res.setHeader('Location', `${prefix}/${query}`)
      return void res.end()
    }
    if (rest === '/') {
      if (!READS.has(method)) return methodNotAllowed(req, res, ['GET'])
      const built = await assets('studio.js').then(
        () => true,
        () => false,
      )
      return send(res, 200, 'text/html; charset=utf-8', built ? page : pageHtml(options, false))
    }
    const parts = segmentsOf(rest)
    if (parts === undefined) return sendError(res, 400, 'BAD_REQUEST', 'Malformed percent-encoding in the path')
    if (parts[0] === 'assets' && parts.length === 2 && Object.hasOwn(ASSET_FILES, parts[1] as string)) {
      if (!READS.has(method)) return methodNotAllowed(req, res, ['GET'])
      const name = parts[1] as AssetName
      const file = await assets(name).catch(() => undefined)
      // Running from source without a build: say so instead of serving a page that silently does nothing.
      if (file === undefined) return send(res, 500, 'text/plain; charset=utf-8', `${name} is missing: npm run build`)
      return send(res, 200, ASSET_FILES[name], file)
    }
    if (parts[0] !== 'api') return sendError(res, 404, 'NOT_FOUND', 'No such page in the studio')
    const route = parts.slice(1).join('/')
    const change = !READS.has(method)
    if (change) {
      if (readOnly) return sendError(res, 403, 'READ_ONLY', 'This studio is read-only')
      const refusal = refusalOf(req)
      if (refusal !== undefined) return sendError(res, 403, 'FORBIDDEN', refusal)
    }
    switch (route) {
      case 'events':
        return change ? methodNotAllowed(req, res, ['GET']) : live.attach(res)
      case 'markets':
        return change ? methodNotAllowed(req, res, ['GET']) : api.listMarkets(cache, res)
      case 'products':
        if (method === 'POST') return api.addProduct(cache, param(query, 'market'), req, res)
        return change
          ? methodNotAllowed(req, res, ['GET', 'POST'])
          : api.listProducts(cache, param(query, 'market'), res)
      case 'product':
        if (method === 'PUT') return api.updateProduct(cache, param(query, 'market'), param(query, 'id'), req, res)
        if (method === 'DELETE') return api.deleteProduct(cache, param(query, 'market'), param(query, 'id'), res)
        return methodNotAllowed(req, res, ['PUT', 'DELETE'])
      case 'product/adjust':
        if (method === 'POST') return api.adjustQuantity(cache, param(query, 'market'), param(query, 'id'), req, res)
        return methodNotAllowed(req, res, ['POST'])
      default:
        return sendError(res, 404, 'NOT_FOUND', 'No such API route')
    }
  }

  /** Serves `req` when it is inside the base path; `false` when it is not. */
  function serve(req: IncomingMessage, res: ServerResponse): boolean {
    const target = splitTarget(req.url ?? '/')
    if (!target || !(target.path === prefix || target.path.startsWith(`${prefix}/`))) return false
    setSecurityHeaders(res)
    if (live.closed) {
      fail(res, new ClosedError(), undefined)
      return true
    }
    const field = target.path.endsWith('/adjust') ? 'delta' : undefined
    route(req, res, target.path.slice(prefix.length), target.query).catch((error: unknown) => {
      if ((error as { code?: unknown } | undefined)?.code === 'CLOSED') live.close()
      fail(res, error, field)
    })
    return true
  }

  return (req, res, next) => {
    let served: boolean
    try {
      served = serve(req, res)
    } catch (error) {
      // A synchronous throw out of a request listener kills the host process: answer it like any failure.
      return fail(res, error, undefined)
    }
    if (served) return
    // Outside the try: an error of the host's own `next` is the host's to see.
    if (next) return next()
    res.statusCode = 404
    res.end()
  }
}
