import type { Query } from './bounded-query.js'
import { quoteIdentifier } from './options.js'

/** The columns `PostgresDatabase` reads and writes, with the type `format_type` names. */
const COLUMNS: Record<string, string> = {
  name: 'text',
  revision: 'bigint',
  // `json`, not `jsonb`: jsonb reorders object keys, and products must list in insertion order.
  snapshot: 'json',
  updated_at: 'timestamp with time zone',
}

/**
 * Codes of a concurrent `CREATE TABLE IF NOT EXISTS` losing its race in the catalog: unique_violation,
 * duplicate_table, duplicate_object (the table's row type). The shape check that follows sees the winner's table.
 */
const LOST_CREATE_RACE = new Set(['23505', '42P07', '42710'])

interface TableRow {
  schema: string
  relname: string
  relkind: string
  columns: string | null
  keyed: boolean
}

/**
 * @internal
 * Creates `table` if it is missing, then checks its shape. Resolves to the table's schema-qualified quoted
 * name, as `locate` names it. Many instances may open at once: `IF NOT EXISTS` can still lose a race
 * inside the catalog, which is caught, and the shape check that follows sees the winner's table.
 * @throws {Error} naming the table when it exists with another shape.
 */
export async function ensureTable(query: Query, table: string): Promise<string> {
  try {
    await query(
      `CREATE TABLE IF NOT EXISTS ${table} (
        name text PRIMARY KEY,
        revision bigint NOT NULL,
        snapshot json NOT NULL,
        updated_at timestamptz NOT NULL
      )`,
    )
  } catch (error) {
    if (!LOST_CREATE_RACE.has((error as { code?: string }).code ?? '')) throw error
  }
  const { rows } = await query<TableRow>(
    `SELECT n.nspname AS schema, c.relname, c.relkind,
       (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull))
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)::text AS columns,
       EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
          WHERE i.indrelid = c.oid AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL
            AND a.attname = 'name') AS keyed
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = to_regclass($1)`,
    [table],
  )
  const row = rows[0]
  if (!row) throw new Error(`Table ${table} was not found after creating it`)
  const located = `${quoteIdentifier(row.schema)}.${quoteIdentifier(row.relname)}`
  const problems: string[] = []
  if (row.relkind !== 'r' && row.relkind !== 'p') problems.push('it is not a table')
  // As text, parsed here: a user's pool may have its own json type parser.
  const columns = JSON.parse(row.columns ?? '[]') as [string, string, boolean][]
  const found = new Map(columns.map(([name, type, notNull]) => [name, { type, notNull }]))
  for (const [name, type] of Object.entries(COLUMNS)) {
    const column = found.get(name)
    if (!column) problems.push(`column \`${name}\` is missing`)
    else if (column.type !== type) problems.push(`column \`${name}\` is \`${column.type}\`, expected \`${type}\``)
    else if (!column.notNull) problems.push(`column \`${name}\` allows null`)
  }
  if (!row.keyed) problems.push('column `name` is not its primary key')
  if (problems.length > 0) {
    throw new Error(
      `Table ${located} does not have the shape market-system stores markets in: ${problems.join('; ')}. Expected (name text primary key, revision bigint not null, snapshot json not null, updated_at timestamptz not null)`,
    )
  }
  return located
}
