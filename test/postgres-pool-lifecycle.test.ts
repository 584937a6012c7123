// The pool PostgresDatabase creates from `connectionString`: TCP keepalive on its connections, and idle
// connections that do not keep a process alive that never closed its database.
import { spawn } from 'node:child_process'
import { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, it, vi } from 'vitest'
import { PostgresDatabase } from '../src/postgres.js'
import { finished, useChildCleanup } from './helpers/child.js'
import { describePostgres, postgresUrl, usePostgresTables } from './helpers/postgres-tables.js'

const table = usePostgresTables()
const children = useChildCleanup()
const source = new URL('../src/postgres.ts', import.meta.url).href

afterEach(() => {
  vi.restoreAllMocks()
})

/**
 * A child that opens a PostgresDatabase, makes one call and never closes it. A pool whose idle connections kept
 * the process alive would hold it for pg's idle timeout (10 s): still running 5 s later, it prints
 * `still running` and exits 3.
 */
const forgetfulChild = `
const [source, url, table] = process.argv.slice(1)
const { PostgresDatabase } = await import(source)
const database = new PostgresDatabase({ connectionString: url, table })
await database.markets()
setTimeout(() => {
  console.log('still running')
  process.exit(3)
}, 5000).unref()
console.log('idle')
`

describePostgres('the pool PostgresDatabase creates', () => {
  it('turns TCP keepalive on for its connections, so a peer that vanished is noticed', async () => {
    const keepAlive = vi.spyOn(Socket.prototype, 'setKeepAlive')
    const database = new PostgresDatabase({ connectionString: postgresUrl, table: await table() })
    try {
      await database.open()
    } finally {
      await database.close()
    }
    const port = Number(new URL(postgresUrl).port || 5432)
    const calls = keepAlive.mock.calls.filter((_, i) => (keepAlive.mock.contexts[i] as Socket).remotePort === port)
    expect(calls.length).toBeGreaterThan(0)
    expect(calls.every(([enable]) => enable === true)).toBe(true)
  })

  it('lets a process that never closed the database exit once its connections are idle', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', forgetfulChild, source, postgresUrl, await table()],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] },
    )
    children.push(child)
    const { code, stdout, stderr } = await finished(child)
    expect({ code, stdout }, stderr).toEqual({ code: 0, stdout: 'idle\n' })
  })
})
