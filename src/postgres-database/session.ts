import type { Pool, PoolClient, QueryResultRow } from 'pg'
import { connectWithin, type Query, type Timeouts } from './bounded-query.js'

/** @internal One transaction on one pooled connection, for statements that must share it (a market lock). */
export interface Session {
  query: Query
  /** Starts a phase: the statements that follow settle, together, within `ms`. */
  within(ms: number): void
  /** Commits (or rolls back) and returns the connection; a connection whose end failed is destroyed. */
  end(commit: boolean): Promise<void>
}

/**
 * @internal
 * Opens a READ COMMITTED transaction on a connection of its own (a conditional store relies on READ COMMITTED
 * re-checking its WHERE clause, whatever the server's default isolation). A failed statement destroys the
 * connection, which also ends the transaction and its locks on the server. The first phase lasts `queryTimeoutMs`.
 */
export async function openSession(pool: Pool, timeouts: Timeouts): Promise<Session> {
  const client: PoolClient = await connectWithin(pool, timeouts.connectionTimeoutMs)
  let failure: Error | undefined
  let ended = false
  let deadline = Date.now() + timeouts.queryTimeoutMs
  // A checked-out client emits `error` when its socket drops; unheard, that event would end the process.
  const onError = (error: Error) => {
    failure ??= error
  }
  client.on('error', onError)
  const finish = () => {
    if (ended) return
    ended = true
    client.removeListener('error', onError)
    client.release(failure)
  }
  const query: Query = async <R extends QueryResultRow>(text: string, values: unknown[] = []) => {
    try {
      const config = { text, values, query_timeout: Math.max(1, deadline - Date.now()) }
      return await client.query<R>(config)
    } catch (error) {
      failure ??= error instanceof Error ? error : new Error(String(error))
      finish()
      throw error
    }
  }
  try {
    await query('BEGIN ISOLATION LEVEL READ COMMITTED')
  } catch (error) {
    finish()
    throw error
  }
  return {
    query,
    within(ms) {
      deadline = Date.now() + ms
    },
    async end(commit) {
      if (ended) return
      try {
        await query(commit ? 'COMMIT' : 'ROLLBACK')
      } finally {
        finish()
      }
    },
  }
}
