import type { MarketCache } from './index.js'
import { packagedAssets } from './studio/assets.js'
import { type StudioHandler, studioHandler } from './studio/handler.js'
import { resolveStudioOptions, type StudioOptions } from './studio/options.js'

export type { StudioHandler } from './studio/handler.js'
export type { StudioOptions } from './studio/options.js'
export { EXPIRING_WITHIN_DAYS, LOW_STOCK_UNITS } from './studio/stock-status.js'

/**
 * A request handler that serves the studio: a page listing every market of `cache` and each market's
 * products, live (Server-Sent Events), editable unless `readOnly`. It has no authentication of its own:
 * mount it behind yours.
 *
 * @example
 * ```ts
 * import http from 'node:http'
 * import { createStudioHandler } from 'market-system/studio'
 *
 * const studio = createStudioHandler(cache, { basePath: '/studio' })
 * http.createServer((req, res) => studio(req, res, () => { res.statusCode = 404; res.end() })).listen(3000)
 * // or in Express: app.use(studio)
 * ```
 * @throws {ValidationError} for unknown or malformed options.
 */
export function createStudioHandler(cache: MarketCache, options?: StudioOptions): StudioHandler {
  return studioHandler(cache, resolveStudioOptions(options), packagedAssets())
}
