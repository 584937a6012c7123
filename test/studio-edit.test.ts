import type { Page } from 'playwright-core'
import { expect, it } from 'vitest'
import { describeInBrowser, useBrowser } from './helpers/browser.js'
import { day, seedShop } from './helpers/studio-data.js'
import { useStudioAssets, useStudios } from './helpers/studio-server.js'

const BOB = "Bob's list"
const names = (page: Page) => page.locator('table.products tbody tr[data-id] th').allTextContents()
const view = (url: string) => `${url}?market=${encodeURIComponent(BOB)}`

async function fillProduct(page: Page, product: { name: string; quantity: string; date: string; price: string }) {
  await page.getByLabel('Name', { exact: true }).fill(product.name)
  await page.getByLabel('Quantity', { exact: true }).fill(product.quantity)
  await page.getByLabel('Expiration date').fill(product.date)
  await page.getByLabel('Price', { exact: true }).fill(product.price)
}

describeInBrowser('studio changes through the page in chromium', () => {
  const browser = useBrowser()
  const studio = useStudios(useStudioAssets())

  it('adds a product through the form, stored as listProducts() shows', async () => {
    const { url, cache } = await studio()
    await seedShop(cache)
    const page = await browser.page()
    await page.goto(view(url))
    await expect.poll(() => names(page)).toHaveLength(3)
    await fillProduct(page, { name: '  cheese ', quantity: '3', date: day(20), price: '7.25' })
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    await expect.poll(() => names(page)).toEqual(['linguissa', 'milk', 'bread', 'cheese'])
    const stored = await cache.market(BOB).listProducts()
    expect(stored.map(({ id: _, ...product }) => product).at(-1)).toEqual({
      name: 'cheese',
      quantity: 3,
      expirationDate: day(20),
      price: 7.25,
    })
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('')
  })

  it('shows a validation error next to the field it concerns and stores nothing', async () => {
    const { url, cache } = await studio()
    await seedShop(cache)
    const page = await browser.page()
    await page.goto(view(url))
    await expect.poll(() => names(page)).toHaveLength(3)
    await fillProduct(page, { name: 'cheese', quantity: '', date: day(20), price: '7' })
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    const quantityError = page.locator('#product-quantity-error')
    await expect.poll(() => quantityError.textContent()).toContain('Expected `quantity` to be a safe integer >= 0')
    expect(await page.getByLabel('Quantity', { exact: true }).getAttribute('aria-invalid')).toBe('true')
    expect(await page.locator('#product-name-error').textContent()).toBe('')
    await page.getByLabel('Quantity', { exact: true }).fill('3')
    await page.getByLabel('Name', { exact: true }).fill('   ')
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    await expect.poll(() => page.locator('#product-name-error').textContent()).toContain('Expected `name`')
    expect(await quantityError.textContent()).toBe('')
    expect(await cache.market(BOB).listProducts()).toHaveLength(3)
  })

  it('edits a product in place of the whole product', async () => {
    const { url, cache } = await studio()
    const ids = await seedShop(cache)
    const page = await browser.page()
    await page.goto(view(url))
    await page.getByRole('button', { name: 'Edit milk' }).click()
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('milk')
    expect(await page.getByLabel('Quantity', { exact: true }).inputValue()).toBe('12')
    await fillProduct(page, { name: 'oat milk', quantity: '9', date: day(40), price: '2.1' })
    await page.getByRole('button', { name: 'Save' }).click()
    await expect.poll(() => names(page)).toEqual(['linguissa', 'oat milk', 'bread'])
    expect(await cache.market(BOB).getProduct(ids.milk as string)).toEqual({
      name: 'oat milk',
      quantity: 9,
      expirationDate: day(40),
      price: 2.1,
    })
  })

  it('adjusts a quantity, and shows insufficient stock next to the delta without changing anything', async () => {
    const { url, cache } = await studio()
    const ids = await seedShop(cache)
    const page = await browser.page()
    await page.goto(view(url))
    await page.getByRole('button', { name: 'Adjust bread' }).click()
    await page.getByLabel('Change quantity by').fill('5')
    await page.getByRole('button', { name: 'Apply' }).click()
    const quantityOf = () => page.locator(`tr[data-id="${ids.bread}"] td`).first().textContent()
    await expect.poll(quantityOf).toBe('7')
    expect((await cache.market(BOB).getProduct(ids.bread as string))?.quantity).toBe(7)
    await page.getByRole('button', { name: 'Adjust bread' }).click()
    await page.getByLabel('Change quantity by').fill('-8')
    await page.getByRole('button', { name: 'Apply' }).click()
    await expect.poll(() => page.locator('#adjust-delta-error').textContent()).toContain('only 7 in stock')
    expect((await cache.market(BOB).getProduct(ids.bread as string))?.quantity).toBe(7)
    expect(await quantityOf()).toBe('7')
  })

  it('deletes a product only once the confirmation is accepted', async () => {
    const { url, cache } = await studio()
    const ids = await seedShop(cache)
    const page = await browser.page()
    await page.goto(view(url))
    await expect.poll(() => names(page)).toHaveLength(3)
    page.once('dialog', (dialog) => void dialog.dismiss())
    await page.getByRole('button', { name: 'Delete milk' }).click()
    expect(await cache.market(BOB).getProduct(ids.milk as string)).toBeDefined()
    page.once('dialog', (dialog) => void dialog.accept())
    await page.getByRole('button', { name: 'Delete milk' }).click()
    await expect.poll(() => names(page)).toEqual(['linguissa', 'bread'])
    expect((await cache.market(BOB).listProducts()).map((item) => item.name)).toEqual(['linguissa', 'bread'])
  })

  it('offers no way to change anything when read-only', async () => {
    const { url, cache } = await studio({ readOnly: true })
    await seedShop(cache)
    const page = await browser.page()
    await page.goto(view(url))
    await expect.poll(() => names(page)).toHaveLength(3)
    expect(await page.locator('form.product-form, form.adjust-form, .row-actions').count()).toBe(0)
    expect(await page.getByText('This studio is read-only.').count()).toBe(1)
  })
})
