import type { IncomingMessage, ServerResponse } from 'node:http'
import { z } from 'zod'
import { localToday } from '../cli/expiry.js'
import type { MarketCache, ProductInput } from '../index.js'
import { readJsonBody } from './read-body.js'
import { sendError, sendJson } from './respond.js'
import { summarize } from './stock-status.js'

/** One row of `GET api/markets`: a market's numbers, or why its data cannot be read. */
export type MarketRow = { name: string } & (ReturnType<typeof summarize> | { error: string })

/** `GET api/markets`. A market that cannot be read is listed with its error, not allowed to hide the others. */
export async function listMarkets(cache: MarketCache, res: ServerResponse): Promise<void> {
  const today = localToday()
  const markets: MarketRow[] = await Promise.all(
    (await cache.markets()).map(async (name) => {
      try {
        return { name, ...summarize(await cache.market(name).listProducts(), today) }
      } catch (error) {
        return { name, error: error instanceof Error ? error.message : String(error) }
      }
    }),
  )
  sendJson(res, 200, { today, markets })
}

/**
 * `GET api/markets/:market/products`. A market that does not exist yet is empty; it is not activated,
 * so a mistyped address does not make a market appear in the list.
 */
export async function listProducts(cache: MarketCache, market: string, res: ServerResponse): Promise<void> {
  const stock = cache.market(market)
  const exists = (await cache.markets()).includes(stock.name)
  const products = exists ? await stock.listProducts() : []
  sendJson(res, 200, { today: localToday(), market: stock.name, exists, products })
}

/** `POST api/markets/:market/products`: validated by `addProduct` itself, with `productSchema`. */
export async function addProduct(cache: MarketCache, market: string, req: IncomingMessage, res: ServerResponse) {
  const stock = cache.market(market)
  const id = await stock.addProduct((await readJsonBody(req)) as ProductInput)
  sendJson(res, 201, { id })
}

/** `PUT api/markets/:market/products/:id`: replaces the whole product. */
export async function updateProduct(
  cache: MarketCache,
  market: string,
  id: string,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const stock = cache.market(market)
  await stock.updateProduct(id, (await readJsonBody(req)) as ProductInput)
  sendJson(res, 200, { id })
}

/** `DELETE api/markets/:market/products/:id`. */
export async function deleteProduct(cache: MarketCache, market: string, id: string, res: ServerResponse) {
  const deleted = await cache.market(market).deleteProduct(id)
  if (!deleted) return sendError(res, 404, 'PRODUCT_NOT_FOUND', `Product \`${id}\` not found in market \`${market}\``)
  sendJson(res, 200, { deleted })
}

const adjustSchema = z.strictObject({ delta: z.unknown() })

/** `POST api/markets/:market/products/:id/adjust` with `{ "delta": n }`; `adjustQuantity` validates the delta. */
export async function adjustQuantity(
  cache: MarketCache,
  market: string,
  id: string,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const body = adjustSchema.safeParse(await readJsonBody(req))
  if (!body.success) return sendError(res, 400, 'VALIDATION', 'Expected a body of the form {"delta": n}', 'delta')
  const quantity = await cache.market(market).adjustQuantity(id, body.data.delta as number)
  sendJson(res, 200, { quantity })
}
