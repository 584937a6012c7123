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
 * @internal What a value says, for an error message: an Error's message, else the value's string form, else its
 * tag. It never throws and always returns a string, whatever a `Database` or a listener hands over (a
 * null-prototype object, a revoked proxy, an Error whose `message` is a Symbol): a throw while the actor words an
 * error would leave the caller's promise pending forever.
 */
export function describeValue(value: unknown): string {
  try {
    const text = value instanceof Error ? value.message : value
    return typeof text === 'string' ? text : String(text)
  } catch {
    return tagOf(value)
  }
}
