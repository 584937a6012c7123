import type { z } from 'zod'

/** Every error code this library rejects with. */
export type MarketErrorCode =
  | 'VALIDATION'
  | 'PRODUCT_NOT_FOUND'
  | 'INSUFFICIENT_STOCK'
  | 'PERSISTENCE'
  | 'CORRUPT_DATA'
  | 'MAILBOX_FULL'
  | 'CLOSED'
  | 'DATA_DIR_LOCKED'
  | 'CONFLICT'

/**
 * Base class of every error this library throws or rejects with.
 * Branch on `code` (stable) rather than on the message (for humans).
 *
 * @example
 * ```ts
 * try { await stock.adjustQuantity(id, -3) }
 * catch (error) { if (error instanceof MarketError && error.code === 'INSUFFICIENT_STOCK') refuse() }
 * ```
 */
export abstract class MarketError extends Error {
  abstract readonly code: MarketErrorCode

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/**
 * @internal True for this library's errors. It never throws: `instanceof` does on a revoked proxy, which a
 * `Database` may reject with.
 */
export function isMarketError(value: unknown): value is MarketError {
  try {
    return value instanceof MarketError
  } catch {
    return false
  }
}

/** An input (product, id, delta, market name, option) broke its schema. `issues` are zod's. */
export class ValidationError extends MarketError {
  readonly code = 'VALIDATION' as const
  readonly issues: readonly z.core.$ZodIssue[]

  constructor(message: string, issues: readonly z.core.$ZodIssue[] = []) {
    super(message)
    this.issues = issues
  }
}

/** `updateProduct` or `adjustQuantity` named a product the market does not hold. */
export class ProductNotFoundError extends MarketError {
  readonly code = 'PRODUCT_NOT_FOUND' as const

  constructor(
    readonly market: string,
    readonly productId: string,
  ) {
    super(`Product \`${productId}\` not found in market \`${market}\``)
  }
}

/** `adjustQuantity` would have taken the quantity below zero; nothing changed. */
export class InsufficientStockError extends MarketError {
  readonly code = 'INSUFFICIENT_STOCK' as const

  constructor(
    readonly market: string,
    readonly productId: string,
    readonly available: number,
    readonly delta: number,
  ) {
    super(`Cannot adjust product \`${productId}\` in market \`${market}\` by ${delta}: only ${available} in stock`)
  }
}

/** The database failed to store or read a market; the storage error is the `cause`. */
export class PersistenceError extends MarketError {
  readonly code = 'PERSISTENCE' as const

  constructor(
    message: string,
    readonly market: string | undefined,
    cause: unknown,
  ) {
    super(message, { cause })
  }
}

/** A market's stored data cannot be parsed or validated. The stored data is left untouched. */
export class CorruptDataError extends MarketError {
  readonly code = 'CORRUPT_DATA' as const

  /** `location`: where the data is, as the `Database` names it (a file path, a table row), when it does. */
  constructor(
    message: string,
    readonly market: string,
    readonly location: string | undefined,
    cause?: unknown,
  ) {
    super(message, { cause })
  }
}

/**
 * The market already holds `maxMailbox` calls (queued, or applied and waiting until their change is durable);
 * retry later. This is back-pressure: a slow disk makes callers wait or retry instead of growing memory.
 */
export class MailboxFullError extends MarketError {
  readonly code = 'MAILBOX_FULL' as const

  constructor(
    readonly market: string,
    readonly capacity: number,
  ) {
    super(`Mailbox of market \`${market}\` is full (${capacity} calls queued or waiting to be durable)`)
  }
}

/** The cache (or database) was closed before the call. */
export class ClosedError extends MarketError {
  readonly code = 'CLOSED' as const

  constructor(what = 'MarketCache') {
    super(`${what} is closed`)
  }
}

/** Another live cache or process owns the data directory. */
export class DataDirLockedError extends MarketError {
  readonly code = 'DATA_DIR_LOCKED' as const

  constructor(
    readonly dir: string,
    readonly ownerPid: number | undefined,
  ) {
    super(`Data directory \`${dir}\` is locked by ${ownerPid === undefined ? 'another owner' : `process ${ownerPid}`}`)
  }
}

/**
 * On a database shared by several instances, other instances stored this market first `attempts` times in a
 * row; the calls waiting for that store reject with this error and nothing of theirs is stored. Retry later.
 */
export class ConflictError extends MarketError {
  readonly code = 'CONFLICT' as const

  constructor(
    readonly market: string,
    readonly attempts: number,
  ) {
    super(`Market \`${market}\` was changed by another instance ${attempts} times in a row; nothing was stored`)
  }
}
