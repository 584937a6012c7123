import type { IncomingMessage, ServerResponse } from 'node:http'
import type { MarketCache } from '../index.js'
import * as api from './api.js'
import { ASSET_FILES, type AssetName, type AssetSource, pageHtml } from './assets.js'
import { sendFailure } from './failure.js'
import { LiveEvents } from './live-events.js'
import type { ResolvedStudioOptions } from './options.js'
import { BodyError } from './read-body.js'
import { refusalOf } from './request-guard.js'
import { methodNotAllowed, send, sendError, setSecurityHeaders } from './respond.js'

/**
 * A Node/Express-style request handler: `next` is called for requests outside the studio's base path.
 * @example
 * ```ts
 * http.createServer((req, res) => studio(req, res, () => res.writeHead(404).end()))
 * ```
 */
export type StudioHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void

const READS = new Set(['GET', 'HEAD'])

/** `segments` of `rest` (the path under the base path), decoded; `undefined` when a segment is malformed. */
function segmentsOf(rest: string): string[] | undefined {
  try {
    return rest.split('/').slice(1).map(decodeURIComponent)
  } catch {
    return undefined
  }
}

/**
 * @internal
 * The handler behind `createStudioHandler`, with its assets passed in (tests serve a fresh build of them).
 */
export function studioHandler(cache: MarketCache, options: ResolvedStudioOptions, assets: AssetSource): StudioHandler {
  const { prefix, readOnly } = options
  const live = new LiveEvents(cache)
  const page = pageHtml(options)

  async function route(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
    const rest = path.slice(prefix.length)
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
    if (parts?.[0] === 'assets' && parts.length === 2 && Object.hasOwn(ASSET_FILES, parts[1] as string)) {
      if (!READS.has(method)) return methodNotAllowed(req, res, ['GET'])
      const name = parts[1] as AssetName
      const file = await assets(name).catch(() => undefined)
      // Running from source without a build: say so instead of serving a page that silently does nothing.
      if (file === undefined) return send(res, 500, 'text/plain; charset=utf-8', `${name} is missing: npm run build`)
      return send(res, 200, ASSET_FILES[name], file)
    }
    if (parts?.[0] !== 'api') return sendError(res, 404, 'NOT_FOUND', 'No such page in the studio')
    const [, collection, market, products, id, action] = parts
    const change = !READS.has(method)
    if (change) {
      if (readOnly) return sendError(res, 403, 'READ_ONLY', 'This studio is read-only')
      const refusal = refusalOf(req)
      if (refusal !== undefined) return sendError(res, 403, 'FORBIDDEN', refusal)
    }
    if (collection === 'events' && parts.length === 2) {
      return change ? methodNotAllowed(req, res, ['GET']) : live.attach(req, res)
    }
    if (collection !== 'markets') return sendError(res, 404, 'NOT_FOUND', 'No such API route')
    if (parts.length === 2) return change ? methodNotAllowed(req, res, ['GET']) : api.listMarkets(cache, res)
    if (market === undefined || products !== 'products') return sendError(res, 404, 'NOT_FOUND', 'No such API route')
    if (parts.length === 4) {
      if (method === 'POST') return api.addProduct(cache, market, req, res)
      return change ? methodNotAllowed(req, res, ['GET', 'POST']) : api.listProducts(cache, market, res)
    }
    if (id === undefined || id === '') return sendError(res, 404, 'NOT_FOUND', 'No such API route')
    if (parts.length === 5) {
      if (method === 'PUT') return api.updateProduct(cache, market, id, req, res)
      if (method === 'DELETE') return api.deleteProduct(cache, market, id, res)
      return methodNotAllowed(req, res, ['PUT', 'DELETE'])
    }
    if (parts.length === 6 && action === 'adjust') {
      if (method === 'POST') return api.adjustQuantity(cache, market, id, req, res)
      return methodNotAllowed(req, res, ['POST'])
    }
    return sendError(res, 404, 'NOT_FOUND', 'No such API route')
  }

  return (req, res, next) => {
    const url = new URL(req.url ?? '/', 'http://studio.invalid')
    const path = url.pathname
    if (!(path === prefix || path.startsWith(`${prefix}/`))) {
      if (next) return next()
      res.statusCode = 404
      return void res.end()
    }
    setSecurityHeaders(res)
    route(req, res, path, url.search).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy()
      if (error instanceof BodyError) {
        if (error.status === 413) res.setHeader('Connection', 'close')
        return sendError(res, error.status, error.code, error.message)
      }
      sendFailure(res, error, url.pathname.endsWith('/adjust') ? 'delta' : undefined)
    })
  }
}
