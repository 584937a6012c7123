import { once } from 'node:events'
import { readdir } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { describeInBrowser, useBrowser } from './helpers/browser.js'
import { useStudioCli } from './helpers/studio-cli.js'
import { day } from './helpers/studio-data.js'
import { useStudioAssets, useStudios } from './helpers/studio-server.js'
import { useTempDirs } from './helpers/temp-dir.js'

const product = { name: 'forged', quantity: 1, expirationDate: day(3), price: 1 }

describeInBrowser('studio against another site open in the same browser (chromium)', () => {
  const browser = useBrowser()
  const studio = useStudios(useStudioAssets())
  const startStudio = useStudioCli()
  const tempDir = useTempDirs()
  const servers: Server[] = []
  afterEach(() => {
    for (const server of servers.splice(0)) server.close()
  })

  /** Another origin (same host, another port): a blank page from which the test acts as a hostile site. */
  async function otherSite(body = ''): Promise<string> {
    const server = createServer((_, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>other site</title>${body}`),
    )
    servers.push(server)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  }

  it('changes nothing for a form or a script on another site, though their requests reach it', async () => {
    const answered: number[] = []
    const { url, cache } = await studio({}, (handler) => (req, res, next) => {
      if (req.method === 'POST') res.once('finish', () => answered.push(res.statusCode))
      handler(req, res, next)
    })
    const target = `${url}api/products?market=Anna`
    const page = await browser.page()
    await page.goto(await otherSite())
    // A script: a "simple" request goes out without a preflight, so the studio itself must refuse it. (The browser
    // then withholds even the opaque answer: Cross-Origin-Resource-Policy.)
    await page.evaluate(
      ([to, body]) =>
        fetch(to, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body }).catch(() => {}),
      [target, JSON.stringify(product)] as const,
    )
    // The same with the studio's header needs a CORS preflight, which the studio never grants: it fails in the browser.
    const withHeader = await page.evaluate(
      ([to, body]) =>
        fetch(to, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Market-Studio': '1' },
          body,
        }).then(
          () => 'sent',
          () => 'blocked',
        ),
      [target, JSON.stringify(product)] as const,
    )
    expect(withHeader).toBe('blocked')
    // A form posting to the studio, as a cross-site request forgery would.
    await Promise.all([
      page.waitForURL(target),
      page.evaluate(
        ([to, body]) => {
          const form = document.createElement('form')
          form.method = 'POST'
          form.action = to
          form.enctype = 'text/plain'
          const input = document.createElement('input')
          input.name = body
          form.append(input)
          document.body.append(form)
          form.submit()
        },
        [target, JSON.stringify(product)] as const,
      ),
    ])
    expect(answered).toEqual([403, 403])
    expect(await cache.markets()).toEqual([])
  })

  it('keeps running (market-system studio) when another site asks it for "//" (<img src="http://127.0.0.1:PORT//">)', async () => {
    const dir = await tempDir()
    const cli = await startStudio('--data', dir)
    const page = await browser.page()
    await page.goto(await otherSite(`<img src="${cli.url}/" alt="">`))
    await page.waitForLoadState('load')
    expect((await fetch(`${cli.url}api/markets`)).status).toBe(200)
    cli.child.kill('SIGINT')
    const [code] = await cli.exited
    expect([code, cli.errors()]).toEqual([0, ''])
    expect(await readdir(dir)).toEqual([])
  })
})
