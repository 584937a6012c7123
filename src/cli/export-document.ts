import { z } from 'zod'
import { productSchema, ValidationError } from '../index.js'
import { parseMarketName } from '../product.js'

/** The version of the `export` document; `import` accepts only this one. */
export const EXPORT_FORMAT = 1

const stockItemSchema = z.strictObject(
  {
    id: z.string('Expected `id` to be a string').min(1, 'Expected `id` to be a non-empty string'),
    ...productSchema.shape,
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `Unknown product field(s) ${issue.keys.map((key) => `\`${key}\``).join(', ')}; expected id, name, quantity, expirationDate, price`
        : 'Expected a product object',
  },
)

const exportedMarketSchema = z.strictObject({
  // The cache's own market-name rule, so a name is refused here, before anything is written, not halfway through.
  name: z.string('Expected the market name to be a string').superRefine((name, context) => {
    try {
      parseMarketName(name)
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error
      context.addIssue({ code: 'custom', message: error.message })
    }
  }),
  // An array, not an object keyed by id, so the products' order (listProducts' insertion order) survives.
  products: z.array(stockItemSchema).superRefine((products, context) => {
    const seen = new Set<string>()
    for (const [index, { id }] of products.entries()) {
      if (seen.has(id))
        context.addIssue({ code: 'custom', path: [index, 'id'], message: `Duplicate product id \`${id}\`` })
      seen.add(id)
    }
  }),
})

/**
 * The document `market-system export` writes and `market-system import` reads: every market with
 * its products, ids included, in order. It accepts exactly what storage accepts (`productSchema`,
 * non-empty ids, the market-name rule, no duplicates), ids that look like array indices (`"7"`)
 * included: `addProduct` refuses to generate those, but stored data may hold them, and its export
 * must import back.
 *
 * @example
 * ```json
 * { "format": 1, "markets": [{ "name": "Bob's list", "products": [{ "id": "V1StGXR8_Z5jdHi6B-myT", "name": "linguissa", "quantity": 5, "expirationDate": "2023-08-08", "price": 23.45 }] }] }
 * ```
 */
export const exportDocumentSchema = z.strictObject({
  format: z.literal(EXPORT_FORMAT, `Expected \`format\` to be ${EXPORT_FORMAT}`),
  markets: z.array(exportedMarketSchema).superRefine((markets, context) => {
    const seen = new Set<string>()
    for (const [index, { name }] of markets.entries()) {
      if (seen.has(name))
        context.addIssue({ code: 'custom', path: [index, 'name'], message: `Duplicate market \`${name}\`` })
      seen.add(name)
    }
  }),
})

/** A parsed export document. */
export type ExportDocument = z.output<typeof exportDocumentSchema>

/**
 * Validates a parsed JSON value as an export document.
 * Returns the document, or one line per problem, each starting with where it is (`markets[0].products[2].price`).
 */
export function parseExportDocument(value: unknown): ExportDocument | string[] {
  const result = exportDocumentSchema.safeParse(value)
  if (result.success) return result.data
  return result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`)
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = ''
  for (const key of path) text += typeof key === 'number' ? `[${key}]` : `${text ? '.' : ''}${String(key)}`
  return text || '(document)'
}
