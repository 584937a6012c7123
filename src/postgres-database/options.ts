import type { Pool } from 'pg'
import { z } from 'zod'
import { ValidationError } from '../errors.js'

/** Options of `new PostgresDatabase(options)`: exactly one of `connectionString` and `pool`. */
export interface PostgresDatabaseOptions {
  /** A `postgres://` URL; the database then owns a `pg.Pool` of its own, ended by `close()`. */
  connectionString?: string
  /** A `pg.Pool` you own: `close()` leaves it open. Set its `connectionTimeoutMillis` too, so that a stuck connection attempt is abandoned rather than only waited out. */
  pool?: Pool
  /**
   * The table, `name` or `schema.name`: letters, digits, `_` and `$`, not starting with a digit, 63 bytes at
   * most each. Always quoted, so it is case-sensitive.
   * @default 'market_system_markets'
   */
  table?: string
  /**
   * Connections in the pool it creates (only with `connectionString`).
   * @default 10
   */
  max?: number
  /**
   * How long a call waits for a pooled connection (or a new one to be established) before it rejects.
   * @default 10000
   */
  connectionTimeoutMs?: number
  /**
   * How long a call waits for the server's answer to its query before it rejects (the connection is then
   * destroyed). With `connectionTimeoutMs`, every call settles within their sum: by default 25 s.
   * @default 15000
   */
  queryTimeoutMs?: number
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/
const identifier = z
  .string()
  .regex(IDENTIFIER, 'Expected an SQL identifier: letters, digits, `_` or `$`, not starting with a digit')
  .refine((part) => Buffer.byteLength(part) <= 63, 'Expected an SQL identifier of at most 63 bytes')

const isPool = (value: unknown): value is Pool =>
  typeof value === 'object' &&
  value !== null &&
  ['connect', 'on', 'removeListener'].every((key) => typeof (value as Record<string, unknown>)[key] === 'function')

const positiveMs = z.int().min(1).max(2_147_483_647)

const optionsSchema = z
  .strictObject({
    connectionString: z.string().min(1).optional(),
    pool: z.custom<Pool>(isPool, 'Expected `pool` to be a pg.Pool').optional(),
    table: z
      .string()
      .refine((table) => {
        const parts = table.split('.')
        return parts.length <= 2 && parts.every((part) => identifier.safeParse(part).success)
      }, 'Expected `table` to be an SQL identifier or `schema.table` (letters, digits, `_`, `$`; 63 bytes each)')
      .optional(),
    max: z.int().min(1).optional(),
    connectionTimeoutMs: positiveMs.optional(),
    queryTimeoutMs: positiveMs.optional(),
  })
  .refine((options) => (options.connectionString === undefined) !== (options.pool === undefined), {
    message: 'Expected exactly one of `connectionString` and `pool`',
  })
  .refine((options) => options.pool === undefined || options.max === undefined, {
    message: '`max` sizes the pool created from `connectionString`; size your own `pool` where you create it',
    path: ['max'],
  })

/** @internal Options after validation and defaults. */
export interface ParsedOptions {
  connectionString: string | undefined
  pool: Pool | undefined
  /** The table as SQL: each part double-quoted. */
  table: string
  max: number
  connectionTimeoutMs: number
  queryTimeoutMs: number
}

/** @internal Quotes an identifier for SQL; `"` doubles, although the validated ones never contain it. */
export const quoteIdentifier = (part: string) => `"${part.replaceAll('"', '""')}"`

/**
 * @internal
 * @throws {ValidationError} for unknown keys, a malformed `table`, both or neither of `connectionString` and `pool`.
 */
export function parseOptions(options: PostgresDatabaseOptions): ParsedOptions {
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) {
    throw new ValidationError(
      `Invalid PostgresDatabase options: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`).join('; ')}`,
      parsed.error.issues,
    )
  }
  const { connectionString, pool, table = 'market_system_markets' } = parsed.data
  return {
    connectionString,
    pool,
    table: table.split('.').map(quoteIdentifier).join('.'),
    max: parsed.data.max ?? 10,
    connectionTimeoutMs: parsed.data.connectionTimeoutMs ?? 10_000,
    queryTimeoutMs: parsed.data.queryTimeoutMs ?? 15_000,
  }
}
