export type { PostgresDatabaseOptions } from './postgres-database/options.js'
export { PostgresDatabase } from './postgres-database/postgres-database.js'
