import type { IncomingMessage } from 'node:http'
import { RequestError } from './request-error.js'

/** Bodies are one product or one delta: a few hundred bytes. Anything far larger is not from the page. */
export const MAX_BODY_BYTES = 16 * 1024

/**
 * @internal
 * Reads and parses a JSON body of at most `MAX_BODY_BYTES`, stopping as soon as it grows past the limit.
 * @throws {RequestError} 415 unless the body is declared JSON, 413 past the limit, 400 when it does not parse.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? ''
  if (!/^application\/json\s*(?:;|$)/i.test(type)) {
    throw new RequestError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Expected a JSON body (Content-Type: application/json)')
  }
  // A body parser mounted before the studio (Express's `express.json()`) has read the stream already; its
  // result went through the host's own size limit, and is validated below like any other body.
  const parsed = (req as { body?: unknown }).body
  if (req.readableEnded && parsed !== undefined) return parsed
  const tooLarge = () =>
    new RequestError(413, 'PAYLOAD_TOO_LARGE', `Request body is larger than ${MAX_BODY_BYTES} bytes`)
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) throw tooLarge()
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk)
      // Keep draining (and discarding) instead of destroying the socket, so the client reads the 413.
      req.off('data', onData)
      req.resume()
      reject(tooLarge())
    }
    req.on('data', onData)
    req.once('end', () => resolve(Buffer.concat(chunks)))
    req.once('error', reject)
    // A client that gives up mid-body: settle, so nothing waits for an `end` that never comes.
    req.once('close', () => reject(new RequestError(400, 'INCOMPLETE_BODY', 'The request body was cut short')))
  })
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    throw new RequestError(400, 'INVALID_JSON', 'Request body is not valid JSON')
  }
}
