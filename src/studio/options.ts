import { z } from 'zod'
import { ValidationError } from '../errors.js'

/** Options of `createStudioHandler(cache, options)`. */
export interface StudioOptions {
  /**
   * Path the studio answers under, such as `/studio` (plain segments, none of them `.` or `..`); requests
   * outside it go to `next`.
   * @default '/'
   */
  basePath?: string
  /**
   * Show the stock without any way to change it; every change request is answered 403.
   * @default false
   */
  readOnly?: boolean
  /**
   * Heading and window title of the page.
   * @default 'market-system studio'
   */
  title?: string
}

/** @internal Options after validation: `prefix` is the base path without its trailing slash (`''` for `/`). */
export interface ResolvedStudioOptions {
  prefix: string
  readOnly: boolean
  title: string
}

const schema = z.strictObject({
  // Plain URL path segments only: the path is compared with request paths as text, never decoded. Not `.` or
  // `..`: clients resolve such a segment before sending, so no request could ever reach the studio.
  basePath: z
    .string()
    .regex(/^\/(?:[A-Za-z0-9._~-]+\/?)*$/, 'Expected `basePath` to be a path such as `/studio`')
    .refine(
      (path) => !path.split('/').some((segment) => segment === '.' || segment === '..'),
      'Expected `basePath` without `.` or `..` segments',
    )
    .optional(),
  readOnly: z.boolean().optional(),
  title: z
    .string()
    .trim()
    .min(1)
    .max(200)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: a title is one line of text
    .regex(/^[^\u0000-\u001f\u007f]*$/)
    .optional(),
})

/**
 * @internal
 * Validates the options of `createStudioHandler`.
 * @throws {ValidationError} for unknown keys or malformed values.
 */
export function resolveStudioOptions(options: unknown): ResolvedStudioOptions {
  const parsed = schema.safeParse(options ?? {})
  if (!parsed.success) {
    throw new ValidationError(
      `Invalid studio options: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'options'}: ${issue.message}`).join('; ')}`,
      parsed.error.issues,
    )
  }
  const { basePath = '/', readOnly = false, title = 'market-system studio' } = parsed.data
  return { prefix: basePath.replace(/\/+$/, ''), readOnly, title }
}
