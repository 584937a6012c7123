import { createHash, randomBytes } from 'node:crypto'

const SLUG_LENGTH = 48
const HASH_LENGTH = 32
const MARKET_FILE = /^(?:[a-z0-9]+(?:-[a-z0-9]+)*-)?[0-9a-f]{32}\.json$/

/**
 * @internal
 * Maps a market name to its file name: a readable lowercase ASCII slug, then 128 bits of the
 * SHA-256 of the exact name in lowercase hex.
 *
 * - Distinct names give distinct files even on case-insensitive or normalizing file systems,
 *   because the part that tells them apart is a hash written in characters no file system folds.
 * - Only `[a-z0-9-.]` appears, so nothing can escape the directory (`..`, `/`, `\`), and the dash
 *   before the hash keeps Windows device names (`CON`, `NUL`) from being the whole stem.
 * - At most 48 + 1 + 32 + 5 = 86 bytes, well inside the 255-byte limit.
 *
 * The real name is stored inside the file; this mapping is never reversed.
 */
export function fileNameFor(market: string): string {
  const slug = market
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, SLUG_LENGTH)
    .replace(/^-+|-+$/g, '')
  return slug ? `${slug}-${hashOf(market)}.json` : `${hashOf(market)}.json`
}

const LONE_SURROGATE = /\p{Cs}/u

function hashOf(market: string): string {
  const hash = createHash('sha256')
  // UTF-8 turns every lone surrogate into U+FFFD, so `\ud800`, `\ud801` and `\ufffd` would share a
  // file. Such names hash their UTF-16 code units instead, behind a 0xff byte that no UTF-8 contains,
  // so they can never meet a well-formed name; well-formed names keep the mapping files already use.
  if (LONE_SURROGATE.test(market)) hash.update(Uint8Array.of(0xff)).update(market, 'utf16le')
  else hash.update(market, 'utf8')
  return hash.digest('hex').slice(0, HASH_LENGTH)
}

/** @internal True for names `fileNameFor` produces. */
export function isMarketFile(fileName: string): boolean {
  return MARKET_FILE.test(fileName)
}

const TEMP_FILE = /\.[0-9a-f]{16}\.tmp$/

/** A random process prefix and a counter: unique without asking the OS for random bytes per write. */
const tempPrefix = randomBytes(4).toString('hex')
let tempCounter = 0

/** @internal A unique temporary name beside `fileName`, in the same directory so rename is atomic. */
export function tempNameFor(fileName: string): string {
  tempCounter = (tempCounter + 1) % 0x1_0000_0000
  return `${fileName}.${tempPrefix}${tempCounter.toString(16).padStart(8, '0')}.tmp`
}

/** @internal True for names `tempNameFor` produces; any found when a directory is opened are crash leftovers. */
export function isTempFile(fileName: string): boolean {
  return TEMP_FILE.test(fileName)
}
