import { usageError } from './parse-command-args.js'

const SCHEME = /^postgres(?:ql)?:\/\//i

/**
 * Checks a `--database` value as far as `pg` will read it, so a URL it cannot use is a usage error (exit 2)
 * here instead of a failure deep in the driver: the scheme by prefix, then the rest as pg parses it
 * (libpq forms such as `postgres://user@/db?host=/var/run/postgresql` included), then every port it names.
 * @throws {CliError} a usage error quoting the URL with its passwords replaced by `***`.
 * @example
 * ```ts
 * checkDatabaseUrl('markets', 'postgres://shop@/stock?host=/var/run/postgresql') // passes
 * ```
 */
export function checkDatabaseUrl(command: string, text: string): void {
  if (!SCHEME.test(text)) {
    throw usageError(command, `Expected --database to be a postgres:// or postgresql:// URL, got \`${redact(text)}\`.`)
  }
  // The host's port is read by hand first: a port out of range makes the whole URL unparseable, and that
  // deserves its own message. Whatever follows the last `@` is the host part, however odd the password.
  const host = text.slice(Math.max(text.indexOf('://') + 3, text.lastIndexOf('@') + 1)).split(/[/?#]/, 1)[0] ?? ''
  checkPort(command, text, /:([^:\]]*)$/.exec(host)?.[1] ?? '')
  const url = parseAsPg(text)
  if (url === undefined) {
    throw usageError(
      command,
      `Expected --database to be a URL, got \`${redact(text)}\`: percent-encode "/", ":", "@", "?" and "#" in a user name or password (encodeURIComponent).`,
    )
  }
  // pg takes a `port` parameter over the URL's own port; one it cannot use is refused before it gets one.
  for (const port of url.searchParams.getAll('port')) checkPort(command, text, port)
}

function checkPort(command: string, text: string, port: string): void {
  if (port === '' || (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65_535)) return
  throw usageError(command, `Expected the port of --database to be 1 to 65535, got \`${port}\` in \`${redact(text)}\`.`)
}

/**
 * The URL as pg-connection-string reads it: spaces and stray `%` encoded, then the WHATWG parser, then once
 * more with a placeholder host for an empty one (`user@/db`), which the parser refuses and pg accepts.
 */
function parseAsPg(text: string): URL | undefined {
  let normalized = text
  try {
    if (/ |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(text)) normalized = encodeURI(text).replace(/%25(\d\d)/g, '%$1')
  } catch {
    return undefined // a lone surrogate, which encodeURI refuses, as pg would
  }
  for (const candidate of [normalized, normalized.replace('@/', '@placeholder/')]) {
    try {
      return new URL(candidate)
    } catch {}
  }
  return undefined
}

/**
 * `text` with every password replaced by `***`, however little of it parses: whatever lies between the
 * user name and the last `@` (a password may hold a raw `/`, `:` or `@`; cutting too much only hides
 * more), and the value of every `password` parameter, also one whose name is percent-encoded.
 * @example
 * ```ts
 * redact('postgres://app:a/b@db/shop?password=x') // 'postgres://app:***@db/shop?password=***'
 * ```
 */
export function redact(text: string): string {
  let result = text
  const start = result.indexOf('://') + 3
  const at = result.lastIndexOf('@')
  if (start >= 3 && at >= start) {
    const colon = result.slice(start, at).indexOf(':')
    if (colon >= 0) result = `${result.slice(0, start + colon)}:***${result.slice(at)}`
  }
  return result
    .replace(/([?&])([^?&=#]*)=[^&]*/g, (parameter, separator: string, key: string) =>
      isPassword(key) ? `${separator}${key}=***` : parameter,
    )
    .replace(/(password=)[^&]*/gi, '$1***')
}

function isPassword(key: string): boolean {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' ')).toLowerCase() === 'password'
  } catch {
    return key.toLowerCase().includes('password')
  }
}
