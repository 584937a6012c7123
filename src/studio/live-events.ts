import type { ServerResponse } from 'node:http'
import type { ChangeEvent, MarketCache, MarketEvent } from '../index.js'

/** Proxies close idle connections; a comment line every so often keeps a quiet stream open. */
const HEARTBEAT_MS = 15_000

/**
 * How often, while pages are connected, the cache is asked whether it was closed. It has no close event, and
 * an open stream of a closed cache would keep the host's `server.close()` waiting for ever. One `markets()`
 * call (a directory listing or one query) per interval, and only while a page is open.
 */
const CLOSE_CHECK_MS = 2_000

const isClosedError = (error: unknown) => (error as { code?: unknown } | undefined)?.code === 'CLOSED'

/**
 * @internal
 * Server-Sent Events for open pages: every `change` and `activate` of the cache, as it happens.
 * It listens to the cache only while at least one page is connected, so a handler nobody opens costs nothing.
 * Once the cache is found closed, every stream is ended and `closed` is true for good.
 */
export class LiveEvents {
  readonly #cache: MarketCache
  readonly #clients = new Set<ServerResponse>()
  #timers: ReturnType<typeof setInterval>[] = []
  #check: Promise<void> | undefined
  #closed = false

  constructor(cache: MarketCache) {
    this.#cache = cache
  }

  /** Whether the cache was found closed. */
  get closed(): boolean {
    return this.#closed
  }

  /** Keeps `res` open as an event stream until the page goes away (or the cache is found closed). */
  attach(res: ServerResponse): void {
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
    res.once('close', () => {
      if (this.#clients.delete(res) && this.#clients.size === 0) this.#unsubscribe()
    })
    // On a closed cache `markets()` rejects at once, without I/O. Not awaited: a slow database must not hold
    // the stream up; a stream opened on a closed cache is ended straight away, and the next attempt gets 503.
    void this.#checkClosed()
  }

  /** The cache is closed: ends every stream (the pages see it drop) and refuses new ones from now on. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const res of this.#clients) res.end()
    this.#clients.clear()
    this.#unsubscribe()
  }

  /** One check at a time: a caller arriving during one waits for it. */
  #checkClosed(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#check ??= this.#cache
      .markets()
      .then(
        () => {},
        (error: unknown) => {
          // Any other failure (a database outage) says nothing about the streams: pages keep them and wait.
          if (isClosedError(error)) this.close()
        },
      )
      .finally(() => {
        this.#check = undefined
      })
    return this.#check
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
    this.#timers = [
      setInterval(() => {
        for (const res of this.#clients) res.write(': heartbeat\n\n')
      }, HEARTBEAT_MS),
      setInterval(() => void this.#checkClosed(), CLOSE_CHECK_MS),
    ]
    // Neither timer alone may keep the process alive.
    for (const timer of this.#timers) timer.unref?.()
  }

  #unsubscribe(): void {
    this.#cache.off('change', this.#onChange).off('activate', this.#onActivate)
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers = []
  }
}
