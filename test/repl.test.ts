import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { replHistoryFile } from '../src/cli/repl.js'
import { DataDirLockedError, MarketCache } from '../src/index.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const LOCK_FILE = '.market-system.lock'
const PROMPT = 'market> '

interface Repl {
  child: ChildProcessWithoutNullStreams
  /** Writes one line and resolves with what the REPL printed up to its next prompt. */
  send(line: string): Promise<string>
  exited: Promise<number | null>
}

describe('market-system repl', () => {
  const tempDir = useTempDirs()
  const children: ChildProcessWithoutNullStreams[] = []
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  })

  /** Starts `market-system repl` on `dir` (history off) and resolves once the first prompt is printed. */
  async function startRepl(dir: string): Promise<Repl> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'repl', '--data', dir], {
      cwd: root,
      env: { ...process.env, MARKET_SYSTEM_REPL_HISTORY: '' },
    })
    children.push(child)
    let output = ''
    let waiter: (() => void) | undefined
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk
      waiter?.()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk
    })
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    // Lines are sent one prompt at a time: piped input does not wait for a pending top-level await.
    const nextPrompt = () =>
      new Promise<string>((resolve) => {
        const check = () => {
          const end = output.indexOf(PROMPT)
          if (end === -1) return
          const printed = output.slice(0, end)
          output = output.slice(end + PROMPT.length)
          waiter = undefined
          resolve(printed)
        }
        waiter = check
        check()
      })
    await nextPrompt()
    return {
      child,
      exited,
      send: (line) => {
        child.stdin.write(`${line}\n`)
        return nextPrompt()
      },
    }
  }

  it('evaluates top-level await on a started cache that holds the lock, and .exit flushes and releases it', async () => {
    const dir = await tempDir()
    const repl = await startRepl(dir)
    await repl.send(`const id = await cache.market('x').addProduct(${JSON.stringify(sample)})`)
    const printed = await repl.send('console.log("id=" + id)')
    const id = /id=(\S+)/.exec(printed)?.[1]
    expect(id).toBeTruthy()
    await expect(MarketCache.start({ dataDir: dir })).rejects.toBeInstanceOf(DataDirLockedError)

    repl.child.stdin.write('.exit\n')
    expect(await repl.exited).toBe(0)
    expect(await readdir(dir)).not.toContain(LOCK_FILE)
    const cache = await MarketCache.start({ dataDir: dir })
    expect(await cache.market('x').getProduct(id as string)).toEqual(sample)
    await cache.close()
  })

  it('has MarketCache, FileDatabase, productSchema and every error class in scope', async () => {
    const repl = await startRepl(await tempDir())
    const printed = await repl.send(
      'console.log(JSON.stringify([typeof MarketCache.start, typeof FileDatabase, productSchema.parse(' +
        `${JSON.stringify(sample)}).name, new ValidationError('m').code, typeof DataDirLockedError, typeof CorruptDataError]))`,
    )
    expect(printed).toContain('["function","function","linguissa","VALIDATION","function","function"]')
    repl.child.stdin.end()
    expect(await repl.exited).toBe(0)
  })

  it('keeps `cache` in scope after .clear resets the context', async () => {
    const repl = await startRepl(await tempDir())
    await repl.send('.clear')
    expect(await repl.send('console.log("has cache:", typeof cache.market)')).toContain('has cache: function')
    repl.child.stdin.end()
    expect(await repl.exited).toBe(0)
  })

  it('on end of input (Ctrl-D) lets a change already issued finish, then releases the lock', async () => {
    const dir = await tempDir()
    const repl = await startRepl(dir)
    // The add is issued and stdin closed at once: the close must wait for it to be durable.
    repl.child.stdin.end(`cache.market('eof').addProduct(${JSON.stringify(sample)})\n`)
    expect(await repl.exited).toBe(0)
    expect(await readdir(dir)).not.toContain(LOCK_FILE)
    const cache = await MarketCache.start({ dataDir: dir })
    expect(await cache.market('eof').listProducts()).toEqual([{ id: expect.any(String), ...sample }])
    await cache.close()
  })

  it('on SIGTERM closes the cache and releases the lock', async () => {
    const dir = await tempDir()
    const repl = await startRepl(dir)
    await repl.send(`await cache.market('term').addProduct(${JSON.stringify(sample)})`)
    repl.child.kill('SIGTERM')
    expect(await repl.exited).toBe(0)
    expect(await readdir(dir)).not.toContain(LOCK_FILE)
  })
})

describe('replHistoryFile', () => {
  it('keeps history in ~/.market_system_history unless MARKET_SYSTEM_REPL_HISTORY names another file', () => {
    expect(replHistoryFile({})).toBe(join(homedir(), '.market_system_history'))
    expect(replHistoryFile({ MARKET_SYSTEM_REPL_HISTORY: '/tmp/h' })).toBe('/tmp/h')
  })

  it('keeps no history when MARKET_SYSTEM_REPL_HISTORY is empty, as NODE_REPL_HISTORY does', () => {
    expect(replHistoryFile({ MARKET_SYSTEM_REPL_HISTORY: '' })).toBeUndefined()
  })
})
