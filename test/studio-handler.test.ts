import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { MarketCache, type MarketCacheOptions, ValidationError } from '../src/index.js'
import type { AssetSource } from '../src/studio/assets.js'
import { studioHandler } from '../src/studio/handler.js'
import { resolveStudioOptions } from '../src/studio/options.js'
import { MAX_BODY_BYTES } from '../src/studio/read-body.js'
import { createStudioHandler, type StudioHandler, type StudioOptions } from '../src/studio.js'
import { MemoryDatabase } from './helpers/memory-database.js'
import { day, seedShop } from './helpers/studio-data.js'
import { useTempDirs } from './helpers/temp-dir.js'

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

const BOB = "Bob's list"
const tempDir = useTempDirs()
const open: { server: Server; cache: MarketCache }[] = []
afterEach(async () => {
  for (const { server, cache } of open.splice(0)) {
    server.closeAllConnections()
    server.close()
    await cache.close()
  }
})

/** A studio on a fresh cache, with stand-in assets (the real bundle is the browser tests' business). */
async function start(
  options: StudioOptions = {},
  mount?: (studio: StudioHandler) => Parameters<typeof createServer>[1],
  cacheOptions: MarketCacheOptions = {},
  assets: AssetSource = async (name) => Buffer.from(`/* ${name} */`),
) {
  const storage = cacheOptions.database ? {} : { dataDir: await tempDir(), fsync: false }
  const cache = await MarketCache.start({ ...storage, ...cacheOptions })
  const studio = studioHandler(cache, resolveStudioOptions(options), assets)
  const server = createServer(mount ? mount(studio) : (req, res) => studio(req, res))
  open.push({ server, cache })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  /** A request as the studio's own page sends it, unless `headers` says otherwise (`null`: leave it out). */
  const call = (method: string, path: string, body?: string, headers: Record<string, string | null> = {}) =>
    new Promise<Answer>((resolve, reject) => {
      const own = method === 'GET' ? {} : { origin: `http://${host}`, 'x-market-studio': '1' }
      const json = body === undefined ? {} : { 'content-type': 'application/json' }
      const all = Object.entries({ ...own, ...json, ...headers }).filter(
        (entry): entry is [string, string] => entry[1] !== null,
      )
      const req = request(`http://${host}${path}`, { method, headers: Object.fromEntries(all) }, (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => {
          text += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
      })
      req.on('error', reject)
      req.end(body)
    })
  /** GET `path` exactly as given: no client-side parsing or normalisation. Resolves to the status, or the error's code. */
  const raw = (path: string, method = 'GET') =>
    new Promise<{ status: number | string; body: string }>((resolve) => {
      const [hostname, port] = host.split(':')
      const req = request({ host: hostname, port, path, method }, (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => {
          text += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      })
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: error.code ?? 'ERROR', body: '' }))
      req.end()
    })
  return { cache, host, call, raw, server }
}

const products = (cache: MarketCache) => cache.market(BOB).listProducts()
/** API paths, names and ids in the query as the page sends them. */
const productsOf = (market = BOB) => `/api/products?${new URLSearchParams({ market })}`
const product = (id: string, action: '' | '/adjust' = '', market = BOB) =>
  `/api/product${action}?${new URLSearchParams({ market, id })}`
const milk = JSON.stringify({ name: 'milk', quantity: 1, expirationDate: day(3), price: 1 })

describe('createStudioHandler options', () => {
  it('rejects unknown keys and malformed values with ValidationError', async () => {
    const cache = await MarketCache.start({ dataDir: await tempDir() })
    open.push({ server: createServer(), cache })
    expect(() => createStudioHandler(cache, { readonly: true } as StudioOptions)).toThrow(ValidationError)
    expect(() => createStudioHandler(cache, { basePath: 'studio' })).toThrow(/basePath/)
    expect(() => createStudioHandler(cache, { basePath: '/a b' })).toThrow(ValidationError)
    expect(() => createStudioHandler(cache, { readOnly: 'yes' } as unknown as StudioOptions)).toThrow(/readOnly/)
    expect(() => createStudioHandler(cache, { title: '' })).toThrow(/title/)
    expect(createStudioHandler(cache, { basePath: '/studio/', readOnly: true, title: 'Shop' })).toBeTypeOf('function')
    expect(createStudioHandler(cache, { basePath: '/.well-known/...studio' })).toBeTypeOf('function')
  })

  it.each(['/.', '/..', '/studio/..', '/studio/./x'])(
    'rejects basePath %s (a dot segment no request path can ever carry) with ValidationError',
    async (basePath) => {
      const cache = await MarketCache.start({ dataDir: await tempDir(), fsync: false })
      open.push({ server: createServer(), cache })
      expect(() => createStudioHandler(cache, { basePath })).toThrow(ValidationError)
      expect(() => createStudioHandler(cache, { basePath })).toThrow(/`\.` or `\.\.` segments/)
    },
  )

  it('is not imported by the main entry', async () => {
    expect(await readFile(new URL('../src/index.ts', import.meta.url), 'utf8')).not.toMatch(/studio/i)
  })
})

describe('studio routing', () => {
  it('hands requests outside the base path to next, and answers 404 when there is no next', async () => {
    const { call } = await start({ basePath: '/studio' }, (studio) => (req, res) => {
      if (req.url?.startsWith('/own')) return studio(req, res)
      studio(req, res, () => res.end('host app'))
    })
    expect((await call('GET', '/elsewhere')).body).toBe('host app')
    expect((await call('GET', '/studioX')).body).toBe('host app')
    expect((await call('GET', '/own')).status).toBe(404)
  })

  it('redirects the bare base path to its trailing slash, query kept', async () => {
    const { call } = await start({ basePath: '/studio' })
    const answer = await call('GET', '/studio?market=Anna')
    expect(answer.status).toBe(308)
    expect(answer.headers.location).toBe('/studio/?market=Anna')
  })

  it('serves the page with a strict Content-Security-Policy, no inline script and the title escaped', async () => {
    const { call } = await start({ basePath: '/studio', title: '<b>Shop</b> & "co"' })
    const page = await call('GET', '/studio/')
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
    const csp = String(page.headers['content-security-policy'])
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).toContain("frame-ancestors 'none'")
    expect(page.headers['x-content-type-options']).toBe('nosniff')
    expect(page.body.match(/<script[^>]*>/g)).toEqual(['<script type="module" src="assets/studio.js">'])
    expect(page.body).toContain('<title>&#60;b&#62;Shop&#60;/b&#62; &#38; &#34;co&#34;</title>')
    expect(page.body).not.toContain('<b>')
  })

  it('serves the script and stylesheet with their types, and 404 for any other asset', async () => {
    const { call } = await start()
    const script = await call('GET', '/assets/studio.js')
    expect([script.status, script.headers['content-type'], script.body]).toEqual([
      200,
      'text/javascript; charset=utf-8',
      '/* studio.js */',
    ])
    expect((await call('GET', '/assets/studio.css')).headers['content-type']).toBe('text/css; charset=utf-8')
    expect((await call('GET', '/assets/../package.json')).status).toBe(404)
    expect((await call('GET', '/assets/%2e%2e%2fpackage.json')).status).toBe(404)
    expect((await call('GET', '/assets/toString')).status).toBe(404)
  })

  it('says on the page and for each asset that the build is missing, when it is', async () => {
    const missing: AssetSource = (name) => Promise.reject(new Error(`ENOENT ${name}`))
    const { call } = await start({}, undefined, {}, missing)
    expect((await call('GET', '/')).body).toContain('build the package (npm run build)')
    const script = await call('GET', '/assets/studio.js')
    expect([script.status, script.body]).toEqual([500, 'studio.js is missing: npm run build'])
  })

  it('answers 404 to unknown routes and 405 to a wrong method, as JSON', async () => {
    const { call } = await start()
    for (const path of [
      '/nope',
      '/api',
      '/api/nope',
      '/api/products/x',
      '/api/markets/Anna/nope',
      // The route of old, with the name as a path segment, is gone: a browser cannot send every name that way.
      '/api/markets/Anna/products',
      '/api/product/adjust/x',
    ]) {
      const answer = await call('GET', path)
      expect([path, answer.status]).toEqual([path, 404])
      expect(JSON.parse(answer.body).error.code).toBe('NOT_FOUND')
    }
    const wrong = await call('PATCH', product('some-id'), '{}')
    expect(wrong.status).toBe(405)
    expect(wrong.headers.allow).toBe('PUT, DELETE')
    expect((await call('POST', '/', '{}')).status).toBe(405)
    expect((await call('GET', product('some-id', '/adjust'))).headers.allow).toBe('POST')
    expect((await call('POST', '/api/events', '{}')).status).toBe(405)
  })
})

describe('studio request targets', () => {
  /** A host that records, instead of dying of, anything thrown out of the handler; its `next` answers 404 "next". */
  const recording = (thrown: string[]) => (studio: StudioHandler) => (req: IncomingMessage, res: ServerResponse) => {
    try {
      studio(req, res, () => res.writeHead(404).end('next'))
    } catch (error) {
      // Without this catch, the exception would leave the 'request' listener and kill the process.
      thrown.push(`${req.url}: ${error instanceof Error ? error.message : String(error)}`)
      res.writeHead(599).end()
    }
  }
  const outcome = ({ status, body }: { status: number | string; body: string }) => {
    if (body === 'next') return [status, 'next']
    try {
      return [status, JSON.parse(body).error?.code ?? 'answered']
    } catch {
      return [status, body]
    }
  }

  it.each([
    ['/', '//', 404, 'NOT_FOUND'],
    ['/', '///', 404, 'NOT_FOUND'],
    ['/', '//[/studio/', 404, 'NOT_FOUND'],
    ['/studio', '//', 404, 'next'],
    ['/studio', '//[/studio/', 404, 'next'],
    ['/studio', '/studio/api/%E0%A4%A', 400, 'BAD_REQUEST'],
    ['/', '/api/products?market=%zz', 400, 'BAD_REQUEST'],
    // Dot segments are not resolved: the host's own authentication saw this path, and it is not the studio's.
    ['/studio', '/elsewhere/../studio/api/markets', 404, 'next'],
    ['/studio', '/studio/api/../../elsewhere', 404, 'NOT_FOUND'],
    // The absolute form, which a server must accept: the path after the authority counts.
    ['/studio', 'http://example.com/studio/api/markets', 200, 'answered'],
  ])(
    'with basePath %s, answers the request target %s with %s %s and throws nothing out of the request listener',
    async (basePath, target, status, code) => {
      const thrown: string[] = []
      const { raw } = await start({ basePath }, recording(thrown))
      expect(outcome(await raw(target))).toEqual([status, code])
      expect(thrown).toEqual([])
    },
  )

  it('cuts the connection, rather than throwing, when the host has already sent the headers', async () => {
    const thrown: string[] = []
    const { raw } = await start({}, (studio) => (req, res) => {
      res.writeHead(200)
      recording(thrown)(studio)(req, res)
    })
    expect((await raw('/api/markets')).status).toBe('ECONNRESET')
    // Still listening (a dead server would refuse the connection), and still nothing thrown.
    expect((await raw('/api/markets')).status).toBe('ECONNRESET')
    expect(thrown).toEqual([])
  })
})

describe('studio API', () => {
  it("lists each market's products, units, expired and low-stock counts", async () => {
    const { cache, call } = await start()
    await seedShop(cache)
    const { markets } = JSON.parse((await call('GET', '/api/markets')).body)
    expect(markets).toEqual([
      { name: 'Anna', products: 1, units: 40, expired: 0, lowStock: 0 },
      { name: BOB, products: 3, units: 19, expired: 1, lowStock: 2 },
    ])
  })

  it('lists a market whose data cannot be read with its error, beside the readable ones', async () => {
    const database = new MemoryDatabase()
    database.data.set(
      'Broken',
      JSON.stringify({ format: 1, market: 'Broken', revision: 1, products: { x: { name: '' } } }),
    )
    const { cache, call } = await start({}, undefined, { database })
    await cache.market('Anna').addProduct({ name: 'tea', quantity: 9, expirationDate: day(5), price: 1 })
    const { markets } = JSON.parse((await call('GET', '/api/markets')).body)
    expect(markets).toEqual([
      { name: 'Anna', products: 1, units: 9, expired: 0, lowStock: 0 },
      { name: 'Broken', error: expect.stringContaining('Broken') },
    ])
  })

  it('answers an unknown market as empty without making it appear in the list', async () => {
    const { cache, call } = await start()
    const answer = JSON.parse((await call('GET', productsOf('typo'))).body)
    expect(answer).toMatchObject({ market: 'typo', exists: false, products: [] })
    expect(await cache.markets()).toEqual([])
    expect((await call('GET', productsOf('x'.repeat(201)))).status).toBe(400)
  })

  it.each(['.', '..'])(
    'serves a market named "%s" (a name the library accepts) like any other, with a product of that id too',
    async (name) => {
      const { cache, call } = await start({}, undefined, { generateId: () => name })
      const added = await call('POST', productsOf(name), milk)
      expect([added.status, JSON.parse(added.body)]).toEqual([201, { id: name }])
      const listed = JSON.parse((await call('GET', productsOf(name))).body)
      expect(listed).toMatchObject({ market: name, exists: true, products: [{ id: name, ...JSON.parse(milk) }] })
      const oat = JSON.stringify({ name: 'oat milk', quantity: 4, expirationDate: day(9), price: 2 })
      expect((await call('PUT', product(name, '', name), oat)).status).toBe(200)
      expect(JSON.parse((await call('POST', product(name, '/adjust', name), '{"delta":3}')).body)).toEqual({
        quantity: 7,
      })
      expect(await cache.market(name).listProducts()).toEqual([{ id: name, ...JSON.parse(oat), quantity: 7 }])
      expect((await call('DELETE', product(name, '', name))).status).toBe(200)
      expect(await cache.market(name).listProducts()).toEqual([])
    },
  )

  it('answers 400 naming the query parameter when a market or an id is missing or given twice', async () => {
    const { cache, call } = await start()
    for (const [method, path, field] of [
      ['GET', '/api/products', 'market'],
      ['GET', '/api/products?market=a&market=b', 'market'],
      ['POST', '/api/products?id=x', 'market'],
      ['PUT', `/api/product?market=${BOB}`, 'id'],
      ['DELETE', '/api/product?id=x', 'market'],
      ['POST', `/api/product/adjust?market=${BOB}&id=x&id=y`, 'id'],
    ] as const) {
      const answer = await call(method, path, method === 'GET' || method === 'DELETE' ? undefined : milk)
      expect([method, path, answer.status, JSON.parse(answer.body).error]).toEqual([
        method,
        path,
        400,
        { code: 'VALIDATION', message: expect.stringContaining(`\`${field}\``), field },
      ])
    }
    expect(await cache.markets()).toEqual([])
  })

  it('adds, updates, adjusts and deletes through the public API', async () => {
    const { cache, call } = await start()
    const added = await call('POST', productsOf(), milk)
    expect(added.status).toBe(201)
    const { id } = JSON.parse(added.body)
    const oat = { name: 'oat milk', quantity: 4, expirationDate: day(9), price: 2 }
    expect((await call('PUT', product(id), JSON.stringify(oat))).status).toBe(200)
    expect(JSON.parse((await call('POST', product(id, '/adjust'), '{"delta":3}')).body)).toEqual({ quantity: 7 })
    expect(await products(cache)).toEqual([{ id, ...oat, quantity: 7 }])
    expect((await call('DELETE', product(id))).status).toBe(200)
    expect((await call('DELETE', product(id))).status).toBe(404)
    expect(await products(cache)).toEqual([])
  })

  it('validates bodies with productSchema and names the field an error concerns', async () => {
    const { cache, call } = await start()
    const bad = await call(
      'POST',
      productsOf(),
      JSON.stringify({ name: 'milk', quantity: -1, expirationDate: day(3), price: 1 }),
    )
    expect(bad.status).toBe(400)
    expect(JSON.parse(bad.body).error).toMatchObject({ code: 'VALIDATION', field: 'quantity' })
    const date = await call(
      'POST',
      productsOf(),
      JSON.stringify({ name: 'milk', quantity: 1, expirationDate: '2023-02-30', price: 1 }),
    )
    expect(JSON.parse(date.body).error.field).toBe('expirationDate')
    const typo = await call(
      'POST',
      productsOf(),
      JSON.stringify({ name: 'milk', quantity: 1, expirate_date: day(3), price: 1 }),
    )
    expect(JSON.parse(typo.body).error).toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('expirate_date'),
    })
    expect((await call('POST', productsOf(), '{"name":')).status).toBe(400)
    expect((await call('POST', productsOf(), milk, { 'content-type': 'text/plain' })).status).toBe(415)
    expect(await products(cache)).toEqual([])
  })

  it('takes the body a body parser mounted before it already read (express.json), validated the same', async () => {
    const { cache, call } = await start({}, (studio) => (req, res) => {
      let text = ''
      req.on('data', (chunk: Buffer) => {
        text += chunk
      })
      req.on('end', () => {
        Object.assign(req, { body: text === '' ? {} : JSON.parse(text) })
        studio(req, res)
      })
    })
    expect((await call('POST', productsOf(), milk)).status).toBe(201)
    const bad = await call('POST', productsOf(), JSON.stringify({ name: 'milk' }))
    expect([bad.status, JSON.parse(bad.body).error.field]).toEqual([400, 'quantity'])
    expect((await products(cache)).map((item) => item.name)).toEqual(['milk'])
  })

  it('answers an adjustment below zero with 409 naming the delta, and changes nothing', async () => {
    const { cache, call } = await start()
    const id = await cache.market(BOB).addProduct({ name: 'milk', quantity: 2, expirationDate: day(3), price: 1 })
    const short = await call('POST', product(id, '/adjust'), '{"delta":-3}')
    expect(short.status).toBe(409)
    expect(JSON.parse(short.body).error).toMatchObject({ code: 'INSUFFICIENT_STOCK', field: 'delta' })
    const fraction = await call('POST', product(id, '/adjust'), '{"delta":1.5}')
    expect([fraction.status, JSON.parse(fraction.body).error.field]).toEqual([400, 'delta'])
    expect((await call('POST', product(id, '/adjust'), '{"delta":1,"extra":1}')).status).toBe(400)
    expect((await call('POST', product('missing', '/adjust'), '{"delta":1}')).status).toBe(404)
    expect((await cache.market(BOB).getProduct(id))?.quantity).toBe(2)
  })
})

describe('studio safety', () => {
  it.each([
    ['no Origin header', { origin: null }],
    ['another origin', { origin: 'http://evil.example' }],
    ['an Origin that is not a URL', { origin: 'null' }],
    ['a cross-site fetch', { 'sec-fetch-site': 'cross-site' }],
    ['no studio header', { 'x-market-studio': null }],
  ])('refuses a change with %s (403) and stores nothing', async (_, headers: Record<string, string | null>) => {
    const { cache, call } = await start()
    const answer = await call('POST', productsOf(), milk, headers)
    expect(answer.status).toBe(403)
    expect(JSON.parse(answer.body).error.code).toBe('FORBIDDEN')
    expect(await cache.markets()).toEqual([])
  })

  it('accepts the same change from its own page, so the refusals above are about the headers', async () => {
    const { cache, call } = await start()
    expect((await call('POST', productsOf(), milk, { 'sec-fetch-site': 'same-origin' })).status).toBe(201)
    expect(await products(cache)).toHaveLength(1)
  })

  it('refuses every change with 403 when read-only, and still serves reads', async () => {
    const { cache, call } = await start({ readOnly: true })
    const id = await cache.market(BOB).addProduct({ name: 'milk', quantity: 2, expirationDate: day(3), price: 1 })
    for (const [method, path, body] of [
      ['POST', productsOf(), milk],
      ['PUT', product(id), milk],
      ['DELETE', product(id), undefined],
      ['POST', product(id, '/adjust'), '{"delta":1}'],
    ] as const) {
      const answer = await call(method, path, body)
      expect([method, path, answer.status, JSON.parse(answer.body).error.code]).toEqual([
        method,
        path,
        403,
        'READ_ONLY',
      ])
    }
    expect(await products(cache)).toEqual([{ id, name: 'milk', quantity: 2, expirationDate: day(3), price: 1 }])
    expect((await call('GET', productsOf())).status).toBe(200)
  })

  it('answers 413 to a body past the limit, declared or streamed, and stores nothing', async () => {
    const { cache, call } = await start()
    const huge = JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES), quantity: 1, expirationDate: day(3), price: 1 })
    expect((await call('POST', productsOf(), huge)).status).toBe(413)
    expect((await call('POST', productsOf(), huge, { 'transfer-encoding': 'chunked' })).status).toBe(413)
    expect(await products(cache)).toEqual([])
  })
})

describe('studio event stream', () => {
  it('pushes every durable change and market activation to a connected page', async () => {
    const { cache, host } = await start()
    const frames: string[] = []
    let resolveWaiter: (() => void) | undefined
    const req = request(`http://${host}/api/events`, (res) => {
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
      res.on('data', (chunk: Buffer) => {
        frames.push(...chunk.toString().split('\n\n').filter(Boolean))
        resolveWaiter?.()
      })
    })
    req.end()
    const until = async (predicate: () => boolean) => {
      while (!predicate()) await new Promise<void>((resolve) => (resolveWaiter = resolve))
    }
    await until(() => frames.includes('retry: 1000'))
    const id = await cache.market(BOB).addProduct({ name: 'milk', quantity: 1, expirationDate: day(3), price: 1 })
    await until(() => frames.some((frame) => frame.startsWith('event: change')))
    req.destroy()
    expect(frames).toContain(`event: activate\ndata: ${JSON.stringify({ market: BOB })}`)
    expect(frames).toContain(
      `event: change\ndata: ${JSON.stringify({ market: BOB, revision: 1, operation: 'add', productId: id })}`,
    )
  })
})

describe('studio on a closed cache', () => {
  it('ends open event streams once the cache is closed, then answers 503, so the host server can close', async () => {
    const { cache, host, call, server } = await start()
    let onConnected = () => {}
    const connected = new Promise<void>((resolve) => {
      onConnected = resolve
    })
    const ended = new Promise<string>((resolve, reject) => {
      const req = request(`http://${host}/api/events`, (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => {
          text += chunk
          onConnected()
        })
        res.on('end', () => resolve(text))
      })
      req.on('error', reject)
      req.end()
    })
    await connected
    await cache.close()
    // Found at the next check (every 2 s while a page is connected): the cache has no close event.
    expect(await ended).toBe('retry: 1000\n\n')
    for (const path of ['/api/events', '/api/markets', '/']) {
      const answer = await call('GET', path)
      expect([path, answer.status, JSON.parse(answer.body).error.code]).toEqual([path, 503, 'CLOSED'])
    }
    // No closeAllConnections(): nothing the studio holds keeps the server open.
    await new Promise((resolve) => server.close(resolve))
  })

  it('ends at once a stream asked for on a closed cache, and answers 503 to every request from then on', async () => {
    const { cache, call } = await start()
    await cache.close()
    expect(await call('GET', '/api/events')).toMatchObject({ status: 200, body: 'retry: 1000\n\n' })
    const list = await call('GET', '/api/markets')
    expect([list.status, list.headers.connection]).toEqual([503, 'close'])
    expect((await call('GET', '/')).status).toBe(503)
    expect((await call('POST', productsOf(), milk)).status).toBe(503)
  })
})
