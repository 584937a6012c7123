/**
 * Today's date as `YYYY-MM-DD` in the local time zone: a shopkeeper's "today", not UTC's.
 *
 * @example
 * ```ts
 * localToday(new Date(2023, 7, 8)) // '2023-08-08'
 * ```
 */
export function localToday(now: Date = new Date()): string {
  const pad = (value: number) => String(value).padStart(2, '0')
  return `${String(now.getFullYear()).padStart(4, '0')}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`
}

/**
 * A product is expired once its expiration date is in the past; on the date itself it is still good.
 * `YYYY-MM-DD` strings compare correctly as text.
 * @example
 * ```ts
 * isExpired('2023-08-07', '2023-08-08') // true
 * isExpired('2023-08-08', '2023-08-08') // false
 * ```
 */
export function isExpired(expirationDate: string, today: string): boolean {
  return expirationDate < today
}
