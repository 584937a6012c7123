/// <reference lib="dom" />

/** A refused request, with the field it concerns when the server names one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | undefined,
  ) {
    super(message)
  }
}

/**
 * Calls the studio's API (paths relative to the page). Every request carries the studio header, which the
 * server requires of changes: a form on another site cannot send it.
 */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'X-Market-Studio': '1' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const response = await fetch(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const data = (await response.json().catch(() => undefined)) as
    | { error?: { code?: string; message?: string; field?: string } }
    | undefined
  if (!response.ok) {
    const error = data?.error
    throw new ApiError(
      response.status,
      error?.code ?? 'HTTP',
      error?.message ?? `HTTP ${response.status}`,
      error?.field,
    )
  }
  return data as T
}

// Names and ids travel in the query, never as path segments: a browser resolves a segment `.` or `..` (even
// written `%2E`) before sending, and a market may be named `..`.

/** The API path of one market's products. */
export const productsPath = (market: string) => `api/products?${new URLSearchParams({ market })}`

/** The API path of one product (`PUT`, `DELETE`), or of its adjustment with `action` `'/adjust'`. */
export const productPath = (market: string, id: string, action: '' | '/adjust' = '') =>
  `api/product${action}?${new URLSearchParams({ market, id })}`

/** One product as the API lists it. */
export interface Item {
  id: string
  name: string
  quantity: number
  expirationDate: string
  price: number
}

/**
 * Runs `load` whenever `refresh()` is called, never two at once: calls made while one runs coalesce into a
 * single later run, so answers never arrive out of order and a burst of events costs two fetches at most.
 */
export function serialRefresher(load: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined
  let again = false
  const run = async (): Promise<void> => {
    do {
      again = false
      await load().catch((error: unknown) => console.error(error))
    } while (again)
    running = undefined
  }
  return () => {
    if (running) {
      again = true
      return running
    }
    running = run()
    return running
  }
}
