// A lock's transaction (openSession) and a single bounded statement against pool doubles: the statements sent,
// the bound each one gets, and what becomes of the connection (pooled again or destroyed) in each outcome.
import { EventEmitter } from 'node:events'
import type { Pool } from 'pg'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { boundedQuery } from '../src/postgres-database/bounded-query.js'
import { openSession } from '../src/postgres-database/session.js'

type Config = { text: string; values: unknown[]; query_timeout: number }

/**
 * A pooled connection as pg's: an EventEmitter (an `error` nobody listens to throws), whose `release` throws when
 * called twice and whose `query` rejects once it was released with an error (destroyed).
 */
class FakeClient extends EventEmitter {
  readonly sent: Config[] = []
  readonly released: unknown[] = []
  constructor(readonly answer: (config: Config, client: FakeClient) => Promise<unknown> = async () => ({ rows: [] })) {
    super()
  }
  query(config: Config): Promise<unknown> {
    if (this.released.length > 0) return Promise.reject(new Error('Client was closed and is not queryable'))
    this.sent.push(config)
    return this.answer(config, this)
  }
  release(error?: unknown): void {
    if (this.released.length > 0)
      throw new Error('Release called on client which has already been released to the pool.')
    this.released.push(error)
  }
}

const poolOf = (client: FakeClient) => ({ connect: async () => client }) as unknown as Pool
const timeouts = { connectionTimeoutMs: 1000, queryTimeoutMs: 1000 }

afterEach(() => {
  vi.restoreAllMocks()
})

describe('a lock’s session', () => {
  it('runs its statements in one READ COMMITTED transaction, commits on end(true) and pools the connection again', async () => {
    const client = new FakeClient()
    const session = await openSession(poolOf(client), timeouts)
    await session.query('SELECT $1', [1])
    await session.end(true)
    expect(client.sent.map(({ text, values }) => [text, values])).toEqual([
      ['BEGIN ISOLATION LEVEL READ COMMITTED', []],
      ['SELECT $1', [1]],
      ['COMMIT', []],
    ])
    expect(client.released).toEqual([undefined])
    expect(client.listenerCount('error')).toBe(0)
    // Ending twice is harmless.
    await session.end(true)
    expect(client.released).toEqual([undefined])
  })

  it('rolls back on end(false)', async () => {
    const client = new FakeClient()
    const session = await openSession(poolOf(client), timeouts)
    await session.end(false)
    expect(client.sent.map(({ text }) => text)).toEqual(['BEGIN ISOLATION LEVEL READ COMMITTED', 'ROLLBACK'])
    expect(client.released).toEqual([undefined])
  })

  it('destroys the connection when a statement fails, with that error, and then ends without another statement', async () => {
    const failure = new Error('canceling statement due to statement timeout')
    const client = new FakeClient(async ({ text }) => {
      if (text === 'SELECT 1') throw failure
      return { rows: [] }
    })
    const session = await openSession(poolOf(client), timeouts)
    await expect(session.query('SELECT 1')).rejects.toBe(failure)
    expect(client.released).toHaveLength(1)
    expect(client.released[0]).toBe(failure)
    expect(client.listenerCount('error')).toBe(0)
    await expect(session.end(false)).resolves.toBeUndefined()
    expect(client.sent.map(({ text }) => text)).toEqual(['BEGIN ISOLATION LEVEL READ COMMITTED', 'SELECT 1'])
  })

  it('destroys the connection when a statement rejects with something other than an Error', async () => {
    const client = new FakeClient(async ({ text }) => {
      if (text === 'SELECT 1') throw 'socket hang up'
      return { rows: [] }
    })
    const session = await openSession(poolOf(client), timeouts)
    await expect(session.query('SELECT 1')).rejects.toBe('socket hang up')
    expect(client.released).toEqual([new Error('socket hang up')])
  })

  it('rejects with the error of BEGIN when the transaction cannot start, destroying the connection once', async () => {
    const refused = new Error('the database system is shutting down')
    const client = new FakeClient(async () => {
      throw refused
    })
    await expect(openSession(poolOf(client), timeouts)).rejects.toBe(refused)
    expect(client.released).toHaveLength(1)
    expect(client.released[0]).toBe(refused)
  })

  it('survives an error its connection emits while checked out, and destroys that connection at the end', async () => {
    const dropped = new Error('Connection terminated unexpectedly')
    const client = new FakeClient(async ({ text }, self) => {
      if (text === 'SELECT 1') self.emit('error', dropped)
      return { rows: [] }
    })
    const session = await openSession(poolOf(client), timeouts)
    await expect(session.query('SELECT 1')).resolves.toEqual({ rows: [] })
    await session.end(true)
    expect(client.released).toHaveLength(1)
    expect(client.released[0]).toBe(dropped)
  })

  it('bounds the statements of a phase together by its time, and gives a new phase (within) its own', async () => {
    let now = 1_000_000
    vi.spyOn(Date, 'now').mockImplementation(() => now)
    const client = new FakeClient()
    const session = await openSession(poolOf(client), timeouts)
    now += 400
    await session.query('SELECT 1')
    now += 1100
    // The phase is over: the statement still gets a (1 ms) bound rather than none.
    await session.query('SELECT 2')
    session.within(5000)
    now += 100
    await session.query('SELECT 3')
    expect(client.sent.map(({ query_timeout }) => query_timeout)).toEqual([1000, 600, 1, 4900])
  })
})

describe('a single bounded statement', () => {
  it('survives an error its connection emits while the statement runs, and destroys that connection', async () => {
    const dropped = new Error('Connection terminated unexpectedly')
    const client = new FakeClient(async (_, self) => {
      self.emit('error', dropped)
      return { rows: [{ one: 1 }] }
    })
    const result = await boundedQuery(poolOf(client), timeouts)('SELECT 1')
    expect(result).toEqual({ rows: [{ one: 1 }] })
    expect(client.released).toHaveLength(1)
    expect(client.released[0]).toBe(dropped)
    expect(client.listenerCount('error')).toBe(0)
  })

  it('destroys the connection with the statement’s own error', async () => {
    const failure = new Error('relation does not exist')
    const client = new FakeClient(async () => {
      throw failure
    })
    await expect(boundedQuery(poolOf(client), timeouts)('SELECT 1')).rejects.toBe(failure)
    expect(client.released).toHaveLength(1)
    expect(client.released[0]).toBe(failure)
  })
})
