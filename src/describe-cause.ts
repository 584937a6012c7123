/**
 * @internal The tag of any value (`[object Object]`). It never throws: a proxy may throw on the read of
 * `Symbol.toStringTag`, and then the tag is the value's `typeof`.
 */
export function tagOf(value: unknown): string {
  try {
    return Object.prototype.toString.call(value)
  } catch {
    return `[${typeof value}]`
  }
}

/**
 * @internal What a thrown or rejected value says, for an error message. It never throws: a `Database` may reject
 * with a value that has no string form (`Object.create(null)`), and a throw while the actor words its error would
 * leave the caller's promise pending forever.
 */
export function describeCause(cause: unknown): string {
  try {
    return cause instanceof Error ? cause.message : String(cause)
  } catch {
    return tagOf(cause)
  }
}
