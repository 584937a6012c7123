/**
 * @internal
 * A FIFO mailbox that runs one message to completion before the next. System messages
 * (the actor's own `load`) jump the queue and are not counted in `size`. The actor bounds it.
 *
 * Messages whose handler returns synchronously are drained in one tight loop, so a burst of
 * calls is applied within a single macrotask and the actor's next store carries all of them.
 */
export class Mailbox<M> {
  readonly #handle: (message: M) => void | Promise<void>
  readonly #onError: (error: unknown) => void
  readonly #onIdle: () => void
  #system: M[] = []
  #queue: (M | undefined)[] = []
  #head = 0
  #running = false

  constructor(options: {
    handle: (message: M) => void | Promise<void>
    onError: (error: unknown) => void
    onIdle: () => void
  }) {
    this.#handle = options.handle
    this.#onError = options.onError
    this.#onIdle = options.onIdle
  }

  /** Caller messages waiting to run (system messages and the running one excluded). */
  get size(): number {
    return this.#queue.length - this.#head
  }

  /** True while a message runs or waits. */
  get busy(): boolean {
    return this.#running || this.size > 0 || this.#system.length > 0
  }

  /** Queues a caller message. */
  post(message: M): void {
    this.#queue.push(message)
    this.#kick()
  }

  /** Puts caller messages back at the head of the queue, in the given order (a replay after a conflict). */
  prepend(messages: readonly M[]): void {
    if (messages.length === 0) return
    this.#queue = [...messages, ...this.#queue.slice(this.#head)]
    this.#head = 0
    this.#kick()
  }

  /** Queues a system message ahead of every caller message. */
  postFront(message: M): void {
    this.#system.push(message)
    this.#kick()
  }

  /** Removes and returns every waiting caller message, oldest first. */
  takeAll(): M[] {
    const taken = this.#queue.slice(this.#head) as M[]
    this.#queue = []
    this.#head = 0
    return taken
  }

  #kick(): void {
    if (!this.#running) this.#drain()
  }

  #next(): M | undefined {
    if (this.#system.length > 0) return this.#system.shift()
    if (this.#head === this.#queue.length) return undefined
    const message = this.#queue[this.#head]
    this.#queue[this.#head++] = undefined
    // Compact once the consumed prefix dominates, keeping shift O(1) amortized.
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    return message
  }

  #drain(): void {
    this.#running = true
    for (;;) {
      if (!this.#busyWithMore()) break
      const message = this.#next() as M
      let pending: void | Promise<void>
      try {
        pending = this.#handle(message)
      } catch (error) {
        this.#onError(error)
        continue
      }
      if (pending !== undefined) {
        pending.then(
          () => this.#drain(),
          (error: unknown) => {
            this.#onError(error)
            this.#drain()
          },
        )
        return
      }
    }
    this.#running = false
    this.#onIdle()
  }

  #busyWithMore(): boolean {
    return this.#system.length > 0 || this.#head < this.#queue.length
  }
}
