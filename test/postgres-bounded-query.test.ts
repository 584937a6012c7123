// The bounded query against pool doubles: the interleavings a real server only produces by chance.
import type { Pool, PoolClient } from 'pg'
import { expect, it, vi } from 'vitest'
import { boundedQuery } from '../src/postgres-database/bounded-query.js'

function client(query: () => Promise<unknown>) {
  return { on: vi.fn(), removeListener: vi.fn(), release: vi.fn(), query: vi.fn(query) }
}

const timeouts = { connectionTimeoutMs: 20, queryTimeoutMs: 20 }

it('rejects when no connection comes within connectionTimeoutMs, and returns one that comes later to the pool', async () => {
  const late = client(async () => ({ rows: [] }))
  let hand: (value: PoolClient) => void = () => {}
  const pool = { connect: () => new Promise<PoolClient>((resolve) => (hand = resolve)) } as unknown as Pool
  await expect(boundedQuery(pool, timeouts)('SELECT 1')).rejects.toThrow('No connection to PostgreSQL within 20 ms')
  hand(late as unknown as PoolClient)
  await vi.waitFor(() => expect(late.release).toHaveBeenCalledWith())
  expect(late.query).not.toHaveBeenCalled()
})

it('passes on a connect error, and ignores one that comes after the timeout', async () => {
  const refused = new Error('connect ECONNREFUSED')
  await expect(
    boundedQuery({ connect: () => Promise.reject(refused) } as unknown as Pool, timeouts)('SELECT 1'),
  ).rejects.toBe(refused)
  let fail: (error: Error) => void = () => {}
  const pool = { connect: () => new Promise<PoolClient>((_, reject) => (fail = reject)) } as unknown as Pool
  await expect(boundedQuery(pool, timeouts)('SELECT 1')).rejects.toThrow(/within 20 ms/)
  fail(refused)
})

it('destroys a connection whose query failed, even with a non-Error, and pools one whose query succeeded', async () => {
  const failing = client(() => Promise.reject('socket hang up'))
  await expect(boundedQuery({ connect: async () => failing } as unknown as Pool, timeouts)('SELECT 1')).rejects.toBe(
    'socket hang up',
  )
  expect(failing.release).toHaveBeenCalledWith(new Error('socket hang up'))
  expect(failing.removeListener).toHaveBeenCalledWith('error', failing.on.mock.calls[0]?.[1])
  const fine = client(async () => ({ rows: [{ one: 1 }] }))
  expect((await boundedQuery({ connect: async () => fine } as unknown as Pool, timeouts)('SELECT 1')).rows).toEqual([
    { one: 1 },
  ])
  expect(fine.release).toHaveBeenCalledWith(undefined)
  expect(fine.query).toHaveBeenCalledWith({ text: 'SELECT 1', values: [], query_timeout: 20 })
})

it('destroys a connection that emitted error while its query ran', async () => {
  const dropped = new Error('Connection terminated unexpectedly')
  const broken = client(async () => {
    const listener = broken.on.mock.calls[0]?.[1] as (error: Error) => void
    listener(dropped)
    return { rows: [] }
  })
  await boundedQuery({ connect: async () => broken } as unknown as Pool, timeouts)('SELECT 1')
  expect(broken.release).toHaveBeenCalledWith(dropped)
})
