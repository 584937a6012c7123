import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * Sent with every answer. No inline script or style is allowed, nothing may be loaded from elsewhere, and
 * the page may not be framed (clickjacking) nor post forms anywhere but here.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/** @internal */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.setHeader('X-Frame-Options', 'DENY')
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin')
}

/** @internal */
export function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.statusCode = status
  res.setHeader('Content-Type', type)
  res.setHeader('Cache-Control', 'no-store')
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}

/** @internal */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value))
}

/** What the page receives when a request fails; `field` names the input the error concerns, when one does. */
export interface StudioErrorBody {
  error: { code: string; message: string; field?: string }
}

/** @internal */
export function sendError(res: ServerResponse, status: number, code: string, message: string, field?: string): void {
  const error: StudioErrorBody['error'] = field === undefined ? { code, message } : { code, message, field }
  sendJson(res, status, { error })
}

/** @internal */
export function methodNotAllowed(req: IncomingMessage, res: ServerResponse, allow: string[]): void {
  res.setHeader('Allow', allow.join(', '))
  sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allow.join(' or ')}`)
}
