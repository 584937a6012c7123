import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ChangeEvent, MarketCache, MarketEvent } from '../index.js'

/** Proxies close idle connections; a comment line every so often keeps a quiet stream open. */
const HEARTBEAT_MS = 15_000

/**
 * @internal
 * Server-Sent Events for open pages: every `change` and `activate` of the cache, as it happens.
 * It listens to the cache only while at least one page is connected, so a handler nobody opens costs nothing.
 */
export class LiveEvents {
  readonly #cache: MarketCache
  readonly #clients = new Set<ServerResponse>()
  #heartbeat: ReturnType<typeof setInterval> | undefined

  constructor(cache: MarketCache) {
    this.#cache = cache
  }

  /** Keeps `res` open as an event stream until the page goes away. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    res.statusCode = 200
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8')
    res.setHeader('Cache-Control', 'no-store')
    // Reverse proxies such as nginx would otherwise buffer the stream and deliver events late.
    res.setHeader('X-Accel-Buffering', 'no')
    res.flushHeaders()
    // The browser reconnects after a second when the stream drops; the page refetches on every (re)connect.
    res.write('retry: 1000\n\n')
    if (this.#clients.size === 0) this.#subscribe()
    this.#clients.add(res)
    req.once('close', () => {
      this.#clients.delete(res)
      if (this.#clients.size === 0) this.#unsubscribe()
    })
  }

  readonly #onChange = (event: ChangeEvent) => this.#broadcast('change', event)
  readonly #onActivate = (event: MarketEvent) => this.#broadcast('activate', event)

  #broadcast(name: string, payload: unknown): void {
    // JSON.stringify escapes line breaks, so the payload is always one `data:` line.
    const frame = `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`
    for (const res of this.#clients) res.write(frame)
  }

  #subscribe(): void {
    this.#cache.on('change', this.#onChange).on('activate', this.#onActivate)
    this.#heartbeat = setInterval(() => {
      for (const res of this.#clients) res.write(': heartbeat\n\n')
    }, HEARTBEAT_MS)
    this.#heartbeat.unref?.()
  }

  #unsubscribe(): void {
    this.#cache.off('change', this.#onChange).off('activate', this.#onActivate)
    clearInterval(this.#heartbeat)
  }
}
