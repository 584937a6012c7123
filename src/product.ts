import { z } from 'zod'
import { describeValue, tagOf } from './describe-value.js'
import { ValidationError } from './errors.js'

const MAX_SHOWN = 40

/**
 * Renders a rejected value for an error message without ever throwing or dumping megabytes. Zod builds
 * messages lazily, on the first read of a failed parse's `error`, so a throw here would escape as a raw error.
 */
function show(value: unknown): string {
  let text: string
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value))
  } catch {
    text = tagOf(value)
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text
}

/** Names unknown keys for a message; a hostile input may bring a 10 MB key or a million of them. */
function listKeys(keys: readonly string[]): string {
  const shown = keys
    .slice(0, 5)
    .map((key) => `\`${key.length > MAX_SHOWN ? `${key.slice(0, MAX_SHOWN)}…` : key}\``)
    .join(', ')
  return keys.length > 5 ? `${shown} and ${keys.length - 5} more` : shown
}

function expected(field: string, what: string) {
  return { error: (issue: { input?: unknown }) => `Expected \`${field}\` to be ${what}, got \`${show(issue.input)}\`` }
}

function isCalendarDate(text: string): boolean {
  const year = Number(text.slice(0, 4))
  const month = Number(text.slice(5, 7))
  const day = Number(text.slice(8, 10))
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

/** JSON has no -0: without this a stored -0 would read back as 0 after a restart. */
const positiveZero = (n: number) => n + 0

const NAME = 'a string of 1 to 200 characters (after trimming)'
const MARKET = 'a string of 1 to 200 characters'

/** Characters are code points, so 200 emoji fit in a 200-character name (UTF-16 would count 400). */
function hasLength(text: string): boolean {
  if (text.length === 0) return false
  if (text.length <= 200) return true
  let count = 0
  for (const _ of text) if (++count > 200) return false
  return true
}
const QUANTITY = 'a safe integer >= 0'
const DATE = 'a real calendar date as YYYY-MM-DD'
const PRICE = 'a finite number >= 0'

/**
 * The schema every product input must satisfy. Unknown keys are rejected, not stripped,
 * so a typo such as `expirate_date` fails loudly instead of silently losing data.
 *
 * @example
 * ```ts
 * productSchema.parse({ name: 'linguissa', quantity: 5, expirationDate: '2023-08-08', price: 23.45 })
 * ```
 */
export const productSchema = z.strictObject(
  {
    name: z.string(expected('name', NAME)).trim().refine(hasLength, expected('name', NAME)),
    quantity: z.int(expected('quantity', QUANTITY)).min(0, expected('quantity', QUANTITY)).transform(positiveZero),
    expirationDate: z
      .string(expected('expirationDate', DATE))
      .regex(/^\d{4}-\d{2}-\d{2}$/, expected('expirationDate', DATE))
      .refine(isCalendarDate, expected('expirationDate', DATE)),
    price: z.number(expected('price', PRICE)).min(0, expected('price', PRICE)).transform(positiveZero),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `Unknown product field(s) ${listKeys(issue.keys)}; expected name, quantity, expirationDate, price`
        : `Expected a product object, got \`${show(issue.input)}\``,
  },
)

/** What `productSchema` accepts: the input of `addProduct` and `updateProduct`. */
export type ProductInput = z.input<typeof productSchema>

/** A stored product: the four fields, validated and normalized. */
export type Product = z.output<typeof productSchema>

/** One entry of `listProducts()`: a product with its id. */
export type StockItem = { id: string } & Product

const productIdSchema = z.string(expected('id', 'a non-empty string')).min(1, expected('id', 'a non-empty string'))

/** Canonical array-index strings: a JSON object lists such keys first, which would break insertion order on reload. */
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/
const isArrayIndex = (id: string) => ARRAY_INDEX.test(id) && Number(id) < 2 ** 32 - 1

const newIdSchema = productIdSchema.refine(
  (id) => !isArrayIndex(id),
  expected('generated id', 'a string that is not an array index (such keys lose their order in a JSON object)'),
)

const deltaSchema = z.int(expected('delta', 'a safe integer'))

const marketNameSchema = z
  .string(expected('market name', MARKET))
  .refine(hasLength, expected('market name', MARKET))
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, expected('market name', 'free of control characters'))

/**
 * Parses at the public boundary. Throws `ValidationError`, also when reading the input itself
 * throws (a hostile getter or proxy), so callers only ever see one error type for bad input.
 */
function parseWith<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  let issues: z.core.$ZodIssue[]
  try {
    const result = schema.safeParse(input)
    if (result.success) return result.data
    // Inside the try: zod builds the issues' messages on this first read of `error`.
    issues = result.error.issues
  } catch (cause) {
    throw new ValidationError(`Could not read ${what}: ${describeValue(cause)}`)
  }
  throw new ValidationError(issues.map((issue) => issue.message).join('; '), issues)
}

/** @internal */
export const parseProduct = (input: unknown): Product => parseWith(productSchema, input, 'the product')
/** @internal */
export const parseProductId = (input: unknown): string => parseWith(productIdSchema, input, 'the product id')
/** @internal Checks what `generateId` returned. */
export const parseNewId = (input: unknown): string => parseWith(newIdSchema, input, 'the generated id')
/** @internal */
export const parseDelta = (input: unknown): number => parseWith(deltaSchema, input, 'the delta')
/** @internal */
export const parseMarketName = (input: unknown): string => parseWith(marketNameSchema, input, 'the market name')
