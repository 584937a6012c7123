/**
 * @internal
 * Market names as stored in the `name` column. PostgreSQL text is UTF-8, which cannot hold a lone surrogate
 * (node-postgres would silently turn it into U+FFFD, merging distinct names), so those code units, and U+FFFF
 * itself (the escape character, a noncharacter no real name uses), are stored as U+FFFF and four hex digits.
 * Every other name, which is every name a person types, is stored as it is.
 */
const ESCAPED = /\uFFFF|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const ESCAPE = /\uFFFF([0-9A-F]{4})/g

/** @internal */
export function toStoredName(market: string): string {
  return market.replace(ESCAPED, (unit) => `\uFFFF${unit.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`)
}

/** @internal */
export function fromStoredName(stored: string): string {
  return stored.replace(ESCAPE, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
}
