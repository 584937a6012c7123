/// <reference lib="dom" />
import { EXPIRING_WITHIN_DAYS, expiryStatus } from '../stock-status.js'
import { type Item, productPath, productsPath, request } from './api.js'
import { el, replaceKeepingFocus } from './dom.js'
import { productEditor } from './product-editor.js'

type Column = 'name' | 'quantity' | 'expirationDate' | 'price' | 'status'

const COLUMNS: { key: Column; label: string; numeric?: boolean }[] = [
  { key: 'name', label: 'Name' },
  { key: 'quantity', label: 'Quantity', numeric: true },
  { key: 'expirationDate', label: 'Expires' },
  { key: 'price', label: 'Price', numeric: true },
  { key: 'status', label: 'Status' },
]

const STATUS_TEXT = { expired: 'Expired', expiring: 'Expires soon', fresh: '' } as const
const STATUS_ORDER = { expired: 0, expiring: 1, fresh: 2 } as const

/**
 * One market's products: sortable by every column, filtered by name, each expired or soon-expiring row
 * marked with the word. Returns the function that reloads it.
 */
export function marketView(main: HTMLElement, market: string, readOnly: boolean): () => Promise<void> {
  let items: Item[] = []
  let today = ''
  let sort: { key: Column; direction: 1 | -1 } | undefined
  const reload = () => load()
  const editor = readOnly ? undefined : productEditor(market, reload)
  const summary = el('p', { class: 'summary', role: 'status' })
  const filter = el('input', { id: 'filter', type: 'search', autocomplete: 'off' })
  const body = el('tbody')
  const headers = COLUMNS.map(({ key, label, numeric }) => {
    const button = el('button', { type: 'button', class: 'sort' }, label)
    button.addEventListener('click', () => {
      sort = { key, direction: sort?.key === key && sort.direction === 1 ? -1 : 1 }
      render()
    })
    return { key, cell: el('th', { scope: 'col', class: numeric ? 'num' : undefined }, button) }
  })
  filter.addEventListener('input', () => render())

  const statusOf = (item: Item) => expiryStatus(item.expirationDate, today)
  const compare = (a: Item, b: Item, key: Column): number => {
    if (key === 'status') return STATUS_ORDER[statusOf(a)] - STATUS_ORDER[statusOf(b)]
    const [x, y] = [a[key], b[key]]
    return typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))
  }

  const row = (item: Item) => {
    const status = statusOf(item)
    const actions = editor
      ? el(
          'td',
          { class: 'row-actions' },
          action('Edit', item, () => editor.edit(item)),
          action('Adjust', item, () => editor.adjust(item)),
          action('Delete', item, () => remove(item)),
        )
      : null
    return el(
      'tr',
      { class: status, 'data-id': item.id },
      el('th', { scope: 'row', 'data-label': 'Name' }, item.name),
      el('td', { class: 'num', 'data-label': 'Quantity' }, item.quantity),
      el('td', { 'data-label': 'Expires' }, item.expirationDate),
      el('td', { class: 'num', 'data-label': 'Price' }, item.price.toFixed(2)),
      el('td', { class: 'status', 'data-label': 'Status' }, STATUS_TEXT[status]),
      actions,
    )
  }
  const action = (label: string, item: Item, run: () => void) => {
    const button = el(
      'button',
      { type: 'button', 'data-key': `${label}:${item.id}`, 'aria-label': `${label} ${item.name}` },
      label,
    )
    button.addEventListener('click', run)
    return button
  }

  async function remove(item: Item) {
    if (!window.confirm(`Delete “${item.name}” from ${market}?`)) return
    try {
      await request('DELETE', productPath(market, item.id))
    } catch (error) {
      summary.textContent = error instanceof Error ? error.message : String(error)
    }
    await reload()
  }

  function render() {
    const needle = filter.value.trim().toLocaleLowerCase()
    const shown = items.filter((item) => item.name.toLocaleLowerCase().includes(needle))
    if (sort) {
      const { key, direction } = sort
      shown.sort((a, b) => compare(a, b, key) * direction)
    }
    for (const { key, cell } of headers) {
      if (sort?.key === key) cell.setAttribute('aria-sort', sort.direction === 1 ? 'ascending' : 'descending')
      else cell.removeAttribute('aria-sort')
    }
    const expired = items.filter((item) => statusOf(item) === 'expired').length
    const expiring = items.filter((item) => statusOf(item) === 'expiring').length
    summary.textContent = `${items.length} product(s), ${expired} expired, ${expiring} expiring within ${EXPIRING_WITHIN_DAYS} days (as of ${today}); showing ${shown.length}.`
    replaceKeepingFocus(body, ...shown.map(row))
    if (shown.length === 0) body.append(el('tr', {}, el('td', { colspan: '6' }, 'No products to show.')))
  }

  async function load() {
    const data = await request<{ today: string; products: Item[] }>('GET', productsPath(market))
    items = data.products
    today = data.today
    render()
  }

  document.title = `${market} · ${document.body.dataset.title ?? ''}`
  main.replaceChildren(
    el('p', {}, el('a', { href: './' }, '← All markets')),
    el('h1', {}, market),
    summary,
    el('div', { class: 'filter' }, el('label', { for: filter.id }, 'Filter by name'), filter),
    el(
      'table',
      { class: 'products' },
      el('caption', { class: 'visually-hidden' }, `Products of ${market}`),
      el(
        'thead',
        {},
        el('tr', {}, ...headers.map(({ cell }) => cell), editor ? el('th', { scope: 'col' }, 'Actions') : null),
      ),
      body,
    ),
    editor?.element ?? el('p', {}, 'This studio is read-only.'),
  )
  return load
}
