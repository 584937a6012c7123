import type { IncomingMessage } from 'node:http'

/** The header the page sends with every change. A cross-site form cannot set headers, and a cross-site `fetch` with one needs a CORS preflight the studio never grants. */
export const STUDIO_HEADER = 'x-market-studio'

/**
 * @internal
 * Why a state-changing request is refused, or `undefined` when it comes from the studio's own page:
 * its `Origin` names the host it was sent to, `Sec-Fetch-Site` (when the browser sends it) says
 * same-origin, and it carries the studio header.
 */
export function refusalOf(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin
  if (origin === undefined) return 'A change needs an Origin header'
  let originHost: string
  try {
    originHost = new URL(origin).host
  } catch {
    return 'A change needs a valid Origin header'
  }
  if (originHost !== req.headers.host) return `A change must come from the studio's own page, not from ${origin}`
  const site = req.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin') return `A change must come from the studio's own page (${site})`
  if (req.headers[STUDIO_HEADER] !== '1') return 'A change needs the X-Market-Studio: 1 header'
  return undefined
}
