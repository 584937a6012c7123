import type { Page } from 'playwright-core'
import { expect, it } from 'vitest'
import { describeInBrowser, useBrowser } from './helpers/browser.js'
import { day, seedShop } from './helpers/studio-data.js'
import { useStudioAssets, useStudios } from './helpers/studio-server.js'

/** The product table's rows as [name, quantity, expires, price, status] texts. */
const rows = (page: Page) =>
  page
    .locator('table.products tbody tr[data-id]')
    .evaluateAll((trs) => trs.map((tr) => [...tr.children].slice(0, 5).map((cell) => cell.textContent ?? '')))

const names = async (page: Page) => (await rows(page)).map((row) => row[0])

describeInBrowser('studio page in chromium', () => {
  const browser = useBrowser()
  const studio = useStudios(useStudioAssets())

  it('lists every market with its products, units, expired and low-stock counts', async () => {
    const { url, cache } = await studio()
    await seedShop(cache)
    const page = await browser.page()
    await page.goto(url)
    const bob = page.locator('tr[data-market="Bob\'s list"]')
    await expect.poll(() => bob.locator('td').allTextContents()).toEqual(['3', '19', '1', '2'])
    expect(await page.locator('tr[data-market="Anna"] td').allTextContents()).toEqual(['1', '40', '0', '0'])
  })

  it("opens a market's view from its name and marks expired and soon-expiring rows with the word", async () => {
    const { url, cache } = await studio()
    await seedShop(cache)
    const page = await browser.page()
    await page.goto(url)
    await page.getByRole('link', { name: "Bob's list" }).click()
    await expect
      .poll(() => rows(page))
      .toEqual([
        ['linguissa', '5', '2000-01-01', '23.45', 'Expired'],
        ['milk', '12', day(30), '1.50', ''],
        ['bread', '2', day(2), '3.00', 'Expires soon'],
      ])
    expect(await page.locator('h1').textContent()).toBe("Bob's list")
    expect(await page.locator('.summary').textContent()).toContain('3 product(s), 1 expired, 1 expiring within 7 days')
  })

  it.each(['..', '.'])(
    'opens the view of a market named "%s" from the list, shows its products and changes them',
    async (name) => {
      const { url, cache } = await studio()
      await cache.market(name).addProduct({ name: 'milk', quantity: 3, expirationDate: day(30), price: 1.5 })
      await cache.market('Anna').addProduct({ name: 'bread', quantity: 1, expirationDate: day(30), price: 1 })
      const page = await browser.page()
      await page.goto(url)
      await page.getByRole('link', { name, exact: true }).click()
      await expect.poll(() => page.locator('h1').textContent()).toBe(name)
      await expect.poll(() => names(page)).toEqual(['milk'])
      // A change goes to this market, not to the one a resolved `..` would name.
      await page.getByRole('button', { name: 'Adjust milk' }).click()
      await page.getByLabel('Change quantity by').fill('2')
      await page.getByRole('button', { name: 'Apply' }).click()
      await expect.poll(async () => (await rows(page))[0]?.[1]).toBe('5')
      expect((await cache.market(name).listProducts()).map((item) => item.quantity)).toEqual([5])
      expect(await cache.markets()).toEqual([name, 'Anna'])
    },
  )

  it('sorts by each column both ways and filters by name', async () => {
    const { url, cache } = await studio()
    await seedShop(cache)
    await cache
      .market("Bob's list")
      .addProduct({ name: 'Bread rolls', quantity: 7, expirationDate: day(60), price: 0.4 })
    const page = await browser.page()
    await page.goto(`${url}?market=${encodeURIComponent("Bob's list")}`)
    await expect.poll(() => names(page)).toEqual(['linguissa', 'milk', 'bread', 'Bread rolls'])
    const sortBy = (label: string) => page.locator('thead button.sort', { hasText: new RegExp(`^${label}$`) }).click()
    await sortBy('Quantity')
    expect(await names(page)).toEqual(['bread', 'linguissa', 'Bread rolls', 'milk'])
    await sortBy('Quantity')
    expect(await names(page)).toEqual(['milk', 'Bread rolls', 'linguissa', 'bread'])
    expect(await page.locator('th[aria-sort="descending"]').textContent()).toBe('Quantity')
    await sortBy('Price')
    expect(await names(page)).toEqual(['Bread rolls', 'milk', 'bread', 'linguissa'])
    await sortBy('Expires')
    expect(await names(page)).toEqual(['linguissa', 'bread', 'milk', 'Bread rolls'])
    await sortBy('Status')
    expect((await names(page)).slice(0, 2)).toEqual(['linguissa', 'bread'])
    await sortBy('Name')
    expect(await names(page)).toEqual(['bread', 'Bread rolls', 'linguissa', 'milk'])
    await page.getByLabel('Filter by name').fill('BREAD')
    expect(await names(page)).toEqual(['bread', 'Bread rolls'])
    await page.getByLabel('Filter by name').fill('nothing like it')
    expect(await names(page)).toEqual([])
  })

  it('shows a hostile product name as text and runs none of it', async () => {
    const { url, cache } = await studio()
    const hostile = '<img src=x onerror=alert(1)>'
    await cache.market(hostile).addProduct({ name: hostile, quantity: 1, expirationDate: day(10), price: 1 })
    const page = await browser.page()
    const dialogs: string[] = []
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.dismiss()
    })
    await page.goto(url)
    await page.getByRole('link', { name: hostile }).click()
    await expect.poll(() => names(page)).toEqual([hostile])
    expect(await page.locator('h1').textContent()).toBe(hostile)
    expect(await page.locator('img').count()).toBe(0)
    expect(dialogs).toEqual([])
  })

  it('loads everything from its own origin and requests nothing elsewhere', async () => {
    const { url, origin, cache } = await studio()
    await seedShop(cache)
    const page = await browser.page()
    const requested: string[] = []
    page.on('request', (request) => requested.push(request.url()))
    await page.goto(url)
    await page.getByRole('link', { name: 'Anna' }).click()
    await expect.poll(() => names(page)).toEqual(['tea'])
    expect(requested.length).toBeGreaterThan(3)
    expect(requested.filter((address) => !address.startsWith(`${origin}/`))).toEqual([])
  })

  it('weighs under 20 KiB in all, page, script and stylesheet (prints the weight)', async () => {
    const { url } = await studio()
    const sizes = await Promise.all(
      ['', 'assets/studio.js', 'assets/studio.css'].map(async (path) => {
        const response = await fetch(`${url}${path}`)
        expect(response.status).toBe(200)
        return (await response.arrayBuffer()).byteLength
      }),
    )
    const total = sizes.reduce((sum, size) => sum + size, 0)
    console.log(
      `studio page weight: ${(total / 1024).toFixed(1)} KiB (html ${sizes[0]} B, js ${sizes[1]} B, css ${sizes[2]} B)`,
    )
    expect(total).toBeLessThan(20 * 1024)
  })

  it('fits a 360 px wide screen without sideways scrolling', async () => {
    const { url, cache } = await studio()
    await seedShop(cache)
    const page = await browser.page()
    await page.setViewportSize({ width: 360, height: 740 })
    await page.goto(`${url}?market=${encodeURIComponent("Bob's list")}`)
    await expect.poll(() => names(page)).toEqual(['linguissa', 'milk', 'bread'])
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360)
    await page.goto(url)
    await expect.poll(() => page.locator('tr[data-market]').count()).toBe(2)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360)
  })

  it('can be used from the keyboard: Tab reaches a market, Enter opens it, Enter on a row action focuses its form', async () => {
    const { url, cache } = await studio()
    await seedShop(cache)
    const page = await browser.page()
    await page.goto(url)
    await expect.poll(() => page.locator('tr[data-market]').count()).toBe(2)
    let focused = ''
    for (let presses = 0; presses < 10 && focused !== 'Anna'; presses++) {
      await page.keyboard.press('Tab')
      focused = await page.evaluate(() => document.activeElement?.textContent ?? '')
    }
    expect(focused).toBe('Anna')
    await page.keyboard.press('Enter')
    await expect.poll(() => names(page)).toEqual(['tea'])
    await page.getByRole('button', { name: 'Adjust tea' }).focus()
    await page.keyboard.press('Enter')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('adjust-delta')
  })
})
