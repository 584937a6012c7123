/**
 * @internal
 * A reply waiting at the output gate. A change's reply waits until the revision it produced is stored;
 * on a shared database a reply that reveals state without changing it (a read, or an error such as
 * `ProductNotFoundError`) also waits for a revision check that started after it was computed.
 */
export interface HeldReply<C> {
  /** The call, kept so that it can be applied again after a conflict. */
  call: C
  /** The revision of the state the reply was computed from. */
  revision: number
  settle: () => void
  /** Set for replies that need a revision check; `seen` is the stored revision the check found. */
  check?: { seen: number | undefined }
  /** Set once the gate settled or gave the reply back: a late check answer for it is then ignored. */
  gone?: boolean
}

/** What `release` stopped at. */
export type GateOutcome = 'clear' | 'waiting' | 'stale'

/**
 * @internal
 * The output gate: replies in the order they were computed, released strictly in that order, so a
 * caller never learns of a later state before an earlier reply is settled.
 */
export class OutputGate<C> {
  #held: HeldReply<C>[] = []
  #head = 0

  get size(): number {
    return this.#held.length - this.#head
  }

  hold(reply: HeldReply<C>): void {
    this.#held.push(reply)
  }

  /**
   * Settles, oldest first, every reply that `durable` (the revision known stored) confirms. Returns `stale`
   * when the oldest waiting reply's check found a newer stored revision: another writer got there first.
   */
  release(durable: number): GateOutcome {
    let outcome: GateOutcome = 'clear'
    while (this.#head < this.#held.length) {
      const reply = this.#held[this.#head] as HeldReply<C>
      if (reply.revision > durable || (reply.check && reply.check.seen === undefined)) {
        outcome = 'waiting'
        break
      }
      if (reply.check && (reply.check.seen as number) > durable) {
        outcome = 'stale'
        break
      }
      this.#held[this.#head++] = undefined as unknown as HeldReply<C>
      reply.gone = true
      reply.settle()
    }
    if (this.#head === this.#held.length) {
      this.#held = []
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#held.length) {
      // A busy market may never drain completely; compacting keeps memory bounded by what is held.
      this.#held = this.#held.slice(this.#head)
      this.#head = 0
    }
    return outcome
  }

  /** Held replies waiting for a revision check, oldest first. */
  checking(): HeldReply<C>[] {
    const waiting: HeldReply<C>[] = []
    for (let i = this.#head; i < this.#held.length; i++) {
      const reply = this.#held[i] as HeldReply<C>
      if (reply.check) waiting.push(reply)
    }
    return waiting
  }

  /** Removes one waiting reply (its check failed); false when it is no longer held. */
  remove(reply: HeldReply<C>): boolean {
    const index = this.#held.indexOf(reply, this.#head)
    if (index === -1) return false
    this.#held.splice(index, 1)
    reply.gone = true
    return true
  }

  /** Removes and returns every waiting reply, oldest first. */
  takeAll(): HeldReply<C>[] {
    const taken = this.#held.slice(this.#head)
    this.#held = []
    this.#head = 0
    for (const reply of taken) reply.gone = true
    return taken
  }
}
