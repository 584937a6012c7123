// Vitest globalSetup: one throwaway PostgreSQL server for the whole run, its URL provided to the suites as
// `postgresUrl` (inject). MARKET_SYSTEM_PG_URL uses an existing server instead. When no server can be had the
// PostgreSQL suites skip, saying why once, except under CI=true, where that fails the run.
import type { TestProject } from 'vitest/node'
import { type PostgresServer, startPostgresServer } from './postgres-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The server's URL, or '' when there is none (then `postgresSkipReason` says why). */
    postgresUrl: string
    postgresSkipReason: string
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const existing = process.env.MARKET_SYSTEM_PG_URL
  if (existing) {
    project.provide('postgresUrl', existing)
    project.provide('postgresSkipReason', '')
    return () => {}
  }
  let server: PostgresServer | undefined
  try {
    server = await startPostgresServer()
  } catch (error) {
    const reason = `PostgreSQL suites skipped: ${error instanceof Error ? error.message : String(error)}`
    if (process.env.CI === 'true') throw new Error(`${reason} (CI=true requires them)`, { cause: error })
    console.warn(reason)
    project.provide('postgresUrl', '')
    project.provide('postgresSkipReason', reason)
    return () => {}
  }
  project.provide('postgresUrl', server.url)
  project.provide('postgresSkipReason', '')
  return () => server?.destroy()
}
