import { isExpired } from '../cli/expiry.js'

/**
 * A product is low on stock when it has this many units or fewer (0 included). One fixed rule, so the
 * "low stock" column means the same thing in every studio.
 * @example
 * ```ts
 * const reorder = (await stock.listProducts()).filter((product) => product.quantity <= LOW_STOCK_UNITS)
 * ```
 */
export const LOW_STOCK_UNITS = 5

/**
 * Days ahead (today included) in which a product that has not expired yet counts as expiring soon.
 * @example
 * ```ts
 * // today 2023-08-08: a product expiring on 2023-08-15 is marked "Expires soon", one on 2023-08-16 is not
 * ```
 */
export const EXPIRING_WITHIN_DAYS = 7

/** How a product's expiration date stands on `today`. */
export type ExpiryStatus = 'expired' | 'expiring' | 'fresh'

/** `date` plus `days`, both `YYYY-MM-DD`, on the calendar (UTC arithmetic, so no time zone shifts a day). */
function addDays(date: string, days: number): string {
  const moment = new Date(0)
  moment.setUTCFullYear(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)) + days)
  return moment.toISOString().slice(0, 10)
}

/**
 * Expired once the date is past (as `market-system show` says); expiring when it falls within the next
 * `EXPIRING_WITHIN_DAYS` days, today included.
 *
 * @example
 * ```ts
 * expiryStatus('2023-08-07', '2023-08-08') // 'expired'
 * expiryStatus('2023-08-15', '2023-08-08') // 'expiring'
 * expiryStatus('2023-08-16', '2023-08-08') // 'fresh'
 * ```
 */
export function expiryStatus(expirationDate: string, today: string): ExpiryStatus {
  if (isExpired(expirationDate, today)) return 'expired'
  return expirationDate <= addDays(today, EXPIRING_WITHIN_DAYS) ? 'expiring' : 'fresh'
}

/** The numbers of one market in the studio's list. */
export interface MarketSummary {
  products: number
  units: number
  expired: number
  lowStock: number
}

/**
 * Counts a market's products, units, expired products and products low on stock.
 *
 * @example
 * ```ts
 * summarize([{ quantity: 2, expirationDate: '2000-01-01' }], '2023-08-08') // { products: 1, units: 2, expired: 1, lowStock: 1 }
 * ```
 */
export function summarize(
  products: readonly { quantity: number; expirationDate: string }[],
  today: string,
): MarketSummary {
  let units = 0
  let expired = 0
  let lowStock = 0
  for (const product of products) {
    units += product.quantity
    if (isExpired(product.expirationDate, today)) expired++
    if (product.quantity <= LOW_STOCK_UNITS) lowStock++
  }
  return { products: products.length, units, expired, lowStock }
}
