import { readdir } from 'node:fs/promises'
import { request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { MarketCache } from '../src/index.js'
import { cli } from './helpers/cli.js'
import { post, useStudioCli } from './helpers/studio-cli.js'
import { sample, useTempDirs } from './helpers/temp-dir.js'

describe('market-system studio (CLI)', () => {
  const tempDir = useTempDirs()
  const startStudio = useStudioCli()

  it.each(['SIGINT', 'SIGTERM'] as const)(
    'serves the studio on 127.0.0.1, and on %s closes the cache, exits 0 and leaves only market files',
    async (signal) => {
      const dir = await tempDir()
      const studio = await startStudio('--data', dir)
      expect(studio.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
      expect(studio.output()).toContain('listens on 127.0.0.1 only, a loopback address')
      const page = await fetch(studio.url)
      expect([page.status, (await page.text()).includes('assets/studio.js')]).toEqual([200, true])
      expect(await post(`${studio.url}api/products?market=Anna`, sample)).toBe(201)
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
    const studio = await startStudio('--data', await tempDir(), '--read-only')
    expect(studio.output()).toContain('(read-only)')
    expect(await post(`${studio.url}api/products?market=Anna`, sample)).toBe(403)
    studio.child.kill('SIGINT')
    expect((await studio.exited)[0]).toBe(0)
  })

  it.each([
    [[], '127.0.0.1'],
    [['--host', '127.0.0.2'], '127.0.0.2'],
    [['--host', '::1'], '[::1]'],
    // Whichever address the name resolves to.
    [['--host', 'localhost'], undefined],
  ] as const)(
    'with %j (a loopback address) answers only requests addressed to a loopback name (DNS rebinding), everything included',
    async (args, shown) => {
      const studio = await startStudio('--data', await tempDir(), ...args)
      const { hostname, port } = new URL(studio.url)
      if (shown !== undefined) expect(hostname).toBe(shown)
      expect(studio.output()).toContain(`listens on ${hostname} only, a loopback address`)
      /** The status of a request sent to the studio's address with Host `host`, as a page of that name would send it. */
      const status = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request(
            { host: hostname.replace(/^\[|\]$/g, ''), port, path: '/api/markets', headers: { host } },
            (res) => {
              res.resume()
              resolve(res.statusCode ?? 0)
            },
          )
          req.on('error', reject)
          req.end()
        })
      expect(await status(`evil.example:${port}`)).toBe(403)
      // A name that merely starts like a loopback one is another name.
      expect(await status(`127.0.0.1.evil.example:${port}`)).toBe(403)
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.9.9.9:${port}`, `[::1]:${port}`]) {
        expect([host, await status(host)]).toEqual([host, 200])
      }
      // A rebound page's own origin matches its Host, so only this check stops its change.
      expect(
        await post(`${studio.url}api/products?market=Anna`, sample, {
          host: `evil.example:${port}`,
          origin: `http://evil.example:${port}`,
        }),
      ).toBe(403)
      studio.child.kill('SIGINT')
      expect((await studio.exited)[0]).toBe(0)
    },
  )

  it('survives a request for "//" and still stops on SIGINT with exit 0, leaving only market files', async () => {
    const dir = await tempDir()
    const studio = await startStudio('--data', dir)
    expect(await post(`${studio.url}api/products?market=Anna`, sample)).toBe(201)
    const { hostname, port } = new URL(studio.url)
    /** GET `path` exactly as given (no client-side normalization); the status, or the error's code. */
    const raw = (path: string) =>
      new Promise<number | string>((resolve) => {
        const req = request({ host: hostname, port, path }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'ERROR'))
        req.end()
      })
    expect(await raw('//')).toBe(404)
    expect(await raw('//[')).toBe(404)
    expect(await raw('/api/markets')).toBe(200)
    studio.child.kill('SIGINT')
    const [code] = await studio.exited
    expect([code, studio.errors()]).toEqual([0, ''])
    const files = await readdir(dir)
    expect(files).toHaveLength(1)
    expect(files[0]).toMatch(/\.json$/)
  })

  it('prints its usage on --help, exits 0 and creates no data directory', async () => {
    const dir = `${await tempDir()}/never-created`
    const result = await cli(['studio', '--help', '--data', dir])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(
      /^Usage: market-system studio \[--data DIR \| --database URL\] \[--host 127\.0\.0\.1\]/,
    )
    expect(result.stdout).toContain('binds 127.0.0.1')
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/)
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
