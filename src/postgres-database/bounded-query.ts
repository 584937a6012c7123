import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg'

/** @internal */
export interface Timeouts {
  connectionTimeoutMs: number
  queryTimeoutMs: number
}

/** @internal */
export type Query = <R extends QueryResultRow>(text: string, values?: unknown[]) => Promise<QueryResult<R>>

/**
 * @internal
 * Resolves to a pooled client, or rejects after `ms`: a pool whose server is frozen can otherwise leave
 * `connect()` pending for ever, and the pool may be the user's, configured without a timeout of its own.
 */
export function connectWithin(pool: Pool, ms: number): Promise<PoolClient> {
  return new Promise((resolve, reject) => {
    let late = false
    const timer = setTimeout(() => {
      late = true
      reject(new Error(`No connection to PostgreSQL within ${ms} ms`))
    }, ms)
    pool.connect().then(
      (client) => {
        clearTimeout(timer)
        if (late) client.release()
        else resolve(client)
      },
      (error: unknown) => {
        clearTimeout(timer)
        if (!late) reject(error)
      },
    )
  })
}

/**
 * @internal
 * One statement on a pooled connection, settled within `connectionTimeoutMs + queryTimeoutMs`. A connection
 * that failed or timed out is destroyed, not pooled: its state (a query still running, a dropped socket) is unknown.
 */
export function boundedQuery(pool: Pool, timeouts: Timeouts): Query {
  return async <R extends QueryResultRow>(text: string, values: unknown[] = []) => {
    const client = await connectWithin(pool, timeouts.connectionTimeoutMs)
    let failure: Error | undefined
    // A checked-out client emits `error` when its socket drops; unheard, that event would end the process.
    // The query's own promise rejects with the same error.
    const onError = (error: Error) => {
      failure ??= error
    }
    client.on('error', onError)
    try {
      // `query_timeout` per query (pg reads it from the config object, though its types omit it): a user's
      // pool has no timeout of ours in its client config.
      const config = { text, values, query_timeout: timeouts.queryTimeoutMs }
      return await client.query<R>(config)
    } catch (error) {
      failure ??= error instanceof Error ? error : new Error(String(error))
      throw error
    } finally {
      client.removeListener('error', onError)
      client.release(failure)
    }
  }
}
