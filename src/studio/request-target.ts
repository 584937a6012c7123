/**
 * @internal
 * The path and query of a request target, exactly as sent: no dot segment is resolved and nothing is decoded.
 * `new URL(target, base)` is not used, for two reasons: it throws on targets such as `//[` (and a throw out of
 * a request listener kills the host process), and it resolves `/public/../studio/` to `/studio/`, which would
 * let a request in through a path the host's own authentication never saw as the studio's.
 * `undefined` for a target without a path: `*` (OPTIONS) or `host:port` (CONNECT).
 */
export function splitTarget(target: string): { path: string; query: string } | undefined {
  // The absolute form (`GET http://host/path`), which HTTP/1.1 servers must accept, carries the path after the authority.
  const origin = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target)?.[0] ?? ''
  const rest = target.slice(origin.length).replace(/#.*$/s, '')
  if (origin === '' && !rest.startsWith('/')) return undefined
  const mark = rest.indexOf('?')
  const path = mark === -1 ? rest : rest.slice(0, mark)
  return { path: path === '' ? '/' : path, query: mark === -1 ? '' : rest.slice(mark) }
}

/**
 * @internal
 * The decoded values of each query parameter (`?a=1&a=2`: `a` -> `['1', '2']`), `+` read as a space;
 * `undefined` when a percent-encoding is malformed. (`URLSearchParams` would silently turn a malformed one
 * into U+FFFD, and so name another market than the one asked for.)
 */
export function parseQuery(query: string): Map<string, string[]> | undefined {
  const params = new Map<string, string[]>()
  try {
    for (const pair of query.replace(/^\?/, '').split('&')) {
      if (pair === '') continue
      const equals = pair.indexOf('=')
      const [key, value] = (equals === -1 ? [pair, ''] : [pair.slice(0, equals), pair.slice(equals + 1)]).map((text) =>
        decodeURIComponent(text.replaceAll('+', ' ')),
      ) as [string, string]
      params.set(key, [...(params.get(key) ?? []), value])
    }
  } catch {
    return undefined
  }
  return params
}

/** @internal The decoded segments of `rest`, a path starting with `/`; `undefined` when a percent-encoding is malformed. */
export function segmentsOf(rest: string): string[] | undefined {
  try {
    return rest.split('/').slice(1).map(decodeURIComponent)
  } catch {
    return undefined
  }
}
