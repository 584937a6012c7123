import { describeValue } from './describe-value.js'

/**
 * @internal
 * The promise of a call into a `Database`, which may be a user's code: a call that throws, or returns anything
 * but a promise (or thenable), becomes a rejected promise, so that the actor's own callbacks never throw on it.
 */
export function databaseCall<T>(method: string, call: () => Promise<T>): Promise<T> {
  try {
    const result: unknown = call()
    // A new promise, never the database's own: a promise with an own `then` that returns nothing would
    // otherwise break the chain the actor builds on it.
    if (typeof (result as { then?: unknown } | null | undefined)?.then === 'function') {
      return new Promise<T>((resolve) => resolve(result as Promise<T>))
    }
    return Promise.reject(new TypeError(`Database.${method}() returned ${describeValue(result)}, not a promise`))
  } catch (error) {
    return Promise.reject(error)
  }
}
