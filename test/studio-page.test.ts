import { expect, it } from 'vitest'
import { describeInBrowser, useBrowser } from './helpers/browser.js'
import { useStudioAssets, useStudios } from './helpers/studio-server.js'

const day = (offset: number) => {
  const date = new Date()
  date.setDate(date.getDate() + offset)
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`
}

describeInBrowser('studio page in chromium', () => {
  const browser = useBrowser()
  const studio = useStudios(useStudioAssets())

  it('lists every market with its products, units, expired and low-stock counts', async () => {
    const { url, cache } = await studio()
    const bobs = cache.market("Bob's list")
    await bobs.addProduct({ name: 'linguissa', quantity: 5, expirationDate: '2000-01-01', price: 23.45 })
    await bobs.addProduct({ name: 'milk', quantity: 12, expirationDate: day(30), price: 1.5 })
    await bobs.addProduct({ name: 'bread', quantity: 2, expirationDate: day(2), price: 3 })
    await cache.market('Anna').addProduct({ name: 'tea', quantity: 40, expirationDate: day(100), price: 4 })
    const page = await browser.page()
    await page.goto(url)
    const bob = page.locator('tr[data-market="Bob\'s list"]')
    await expect.poll(() => bob.locator('td').allTextContents()).toEqual(['3', '19', '1', '2'])
    expect(await page.locator('tr[data-market="Anna"] td').allTextContents()).toEqual(['1', '40', '0', '0'])
  })
})
