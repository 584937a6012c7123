/** @internal A request the studio refuses before it reaches the library, with the status to answer. */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message)
  }
}
