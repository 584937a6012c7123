import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir } from 'node:fs/promises'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { MarketCache } from '../src/index.js'
import { useChildCleanup } from './helpers/child.js'
import { cli } from './helpers/cli.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

const root = fileURLToPath(new URL('..', import.meta.url))

/** POSTs `body` to `url` as the studio's own page would. */
function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<number> {
  const { origin } = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { origin, 'x-market-studio': '1', 'content-type': 'application/json', ...headers },
      },
      (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      },
    )
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

describe('market-system studio (CLI)', () => {
  const tempDir = useTempDirs()
  const children = useChildCleanup()

  /** Starts `market-system studio` from source on `dir`; resolves once it printed its address. */
  async function startStudio(dir: string, ...extra: string[]) {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'studio', '--data', dir, '--port', '0', ...extra],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    children.push(child)
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk
    })
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk
        const match = /http:\/\/\S+\//.exec(stdout)
        if (match) resolve(match[0])
      })
      void exited.then(() => reject(new Error(`studio exited early: ${stderr}`)))
    })
    return { child, url, exited, output: () => stdout, errors: () => stderr }
  }

  it.each(['SIGINT', 'SIGTERM'] as const)(
    'serves the studio on 127.0.0.1, and on %s closes the cache, exits 0 and leaves only market files',
    async (signal) => {
      const dir = await tempDir()
      const studio = await startStudio(dir)
      expect(studio.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
      expect(studio.output()).toContain('listens on 127.0.0.1 only')
      const page = await fetch(studio.url)
      expect([page.status, (await page.text()).includes('assets/studio.js')]).toEqual([200, true])
      expect(await post(`${studio.url}api/markets/Anna/products`, sample)).toBe(201)
      // An open event stream must not keep the studio from stopping.
      const events = await fetch(`${studio.url}api/events`)
      expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/)
      studio.child.kill(signal)
      const [code] = await studio.exited
      expect([code, studio.errors()]).toEqual([0, ''])
      expect(studio.output()).toContain('Studio stopped; cache closed.')
      const files = await readdir(dir)
      expect(files).toHaveLength(1)
      expect(files[0]).toMatch(/\.json$/)
      const cache = await MarketCache.start({ dataDir: dir })
      expect((await cache.market('Anna').listProducts()).map(({ id: _, ...product }) => product)).toEqual([sample])
      await cache.close()
    },
  )

  it('refuses changes when --read-only', async () => {
    const studio = await startStudio(await tempDir(), '--read-only')
    expect(studio.output()).toContain('(read-only)')
    expect(await post(`${studio.url}api/markets/Anna/products`, sample)).toBe(403)
    studio.child.kill('SIGINT')
    expect((await studio.exited)[0]).toBe(0)
  })

  it('answers only requests addressed to a loopback name (DNS rebinding), everything included', async () => {
    const studio = await startStudio(await tempDir())
    const { origin } = new URL(studio.url)
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${studio.url}api/markets`, { headers: { host } }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        req.on('error', reject)
        req.end()
      })
    const port = new URL(origin).port
    expect(await status(`evil.example:${port}`)).toBe(403)
    expect(await status(`localhost:${port}`)).toBe(200)
    // A rebound page's own origin matches its Host, so only this check stops its change.
    expect(
      await post(`${studio.url}api/markets/Anna/products`, sample, {
        host: `evil.example:${port}`,
        origin: `http://evil.example:${port}`,
      }),
    ).toBe(403)
    studio.child.kill('SIGINT')
    expect((await studio.exited)[0]).toBe(0)
  })

  it('exits 2 on a malformed --port, and 3 when another process holds the directory', async () => {
    const bad = await cli(['studio', '--port', 'http', '--data', await tempDir()])
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('Expected --port to be 0 to 65535')])
    const dir = await tempDir()
    const holder = await MarketCache.start({ dataDir: dir })
    try {
      expect((await cli(['studio', '--port', '0', '--data', dir])).code).toBe(3)
    } finally {
      await holder.close()
    }
  })
})
