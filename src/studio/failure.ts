import type { ServerResponse } from 'node:http'
import { sendError } from './respond.js'

/** Status per library error code. Codes rather than `instanceof`: the cache may come from another bundle (ESM or CJS) of the package. */
const STATUS: Record<string, number> = {
  VALIDATION: 400,
  PRODUCT_NOT_FOUND: 404,
  INSUFFICIENT_STOCK: 409,
  CONFLICT: 409,
  MAILBOX_FULL: 503,
  CLOSED: 503,
  PERSISTENCE: 503,
  CORRUPT_DATA: 500,
}

/**
 * @internal
 * Answers a failed library call. A `ValidationError` names its field from zod's issue path (or `field`
 * when the path is empty, as for a delta), an `InsufficientStockError` the delta, so the page can show the
 * message next to the input it concerns. Anything else is reported without its stack.
 */
export function sendFailure(res: ServerResponse, error: unknown, field?: string): void {
  const { code, message, issues } = (error ?? {}) as { code?: unknown; message?: unknown; issues?: unknown }
  const status = typeof code === 'string' ? STATUS[code] : undefined
  if (status === undefined || typeof message !== 'string') {
    sendError(res, 500, 'INTERNAL', 'The studio failed to answer; see the server log')
    return
  }
  let concerns = field
  if (code === 'VALIDATION' && Array.isArray(issues)) {
    const key = (issues[0] as { path?: unknown[] } | undefined)?.path?.[0]
    if (typeof key === 'string') concerns = key
  }
  if (code === 'INSUFFICIENT_STOCK') concerns = 'delta'
  sendError(res, status, code as string, message, concerns)
}
