import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'tsup'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { MarketCache } from '../../src/index.js'
import { packagedAssets } from '../../src/studio/assets.js'
import { type StudioHandler, studioHandler } from '../../src/studio/handler.js'
import { resolveStudioOptions, type StudioOptions } from '../../src/studio/options.js'
import { studioAssets } from '../../tsup.config.js'

export interface RunningStudio {
  /** The studio page's URL, with its trailing slash. */
  url: string
  origin: string
  cache: MarketCache
  server: Server
  dataDir: string
}

/**
 * Builds the page's script and stylesheet once for the file, with the package's own tsup options, into a temp
 * dir (never into dist, which a concurrent build may be replacing). Returns the directory.
 */
export function useStudioAssets(): () => string {
  let dir: string | undefined
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'market-system-studio-assets-'))
    await build({ ...studioAssets, outDir: dir, config: false, silent: true })
  }, 120_000)
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  })
  return () => {
    if (!dir) throw new Error('assets not built')
    return join(dir, 'studio-assets')
  }
}

/**
 * Starts studios on a cache over a fresh temp data directory; everything is closed after each test.
 * `wrap` lets a test stand between the server and the handler (to cut the event stream, for one).
 */
export function useStudios(assetsDir: () => string) {
  const running: { server: Server; cache: MarketCache; dataDir: string }[] = []
  afterEach(async () => {
    for (const { server, cache, dataDir } of running.splice(0)) {
      server.closeAllConnections()
      server.close()
      await cache.close()
      await rm(dataDir, { recursive: true, force: true })
    }
  })
  return async (
    options: StudioOptions = {},
    wrap: (handler: StudioHandler) => StudioHandler = (handler) => handler,
  ): Promise<RunningStudio> => {
    const dataDir = await mkdtemp(join(tmpdir(), 'market-system-studio-'))
    // These tests are about the page, not durability: no fsync keeps them quick on a shared machine.
    const cache = await MarketCache.start({ dataDir, fsync: false })
    const handler = wrap(studioHandler(cache, resolveStudioOptions(options), packagedAssets(assetsDir())))
    const server = createServer((req, res) => handler(req, res))
    running.push({ server, cache, dataDir })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const base = (options.basePath ?? '/').replace(/\/?$/, '/')
    return { url: `${origin}${base}`, origin, cache, server, dataDir }
  }
}
