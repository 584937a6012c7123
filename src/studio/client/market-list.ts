/// <reference lib="dom" />
import { LOW_STOCK_UNITS } from '../stock-status.js'
import { request } from './api.js'
import { el, replaceKeepingFocus } from './dom.js'

interface MarketRow {
  name: string
  products?: number
  units?: number
  expired?: number
  lowStock?: number
  error?: string
}

const marketHref = (name: string) => `?market=${encodeURIComponent(name)}`

/**
 * The list of every market with its numbers; each name links to the market's view. Returns the function
 * that reloads it, and whether a market is listed already.
 */
export function marketList(main: HTMLElement, readOnly: boolean) {
  const listed = new Set<string>()
  const body = el('tbody')
  const caption = el('caption', {}, 'Markets')
  const table = el(
    'table',
    { class: 'markets' },
    caption,
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', { scope: 'col' }, 'Market'),
        el('th', { scope: 'col', class: 'num' }, 'Products'),
        el('th', { scope: 'col', class: 'num' }, 'Units in stock'),
        el('th', { scope: 'col', class: 'num' }, 'Expired'),
        el('th', { scope: 'col', class: 'num' }, `Low stock (≤ ${LOW_STOCK_UNITS})`),
      ),
    ),
    body,
  )
  const open = el(
    'form',
    { method: 'get', action: './', class: 'open-market' },
    el('label', { for: 'open-market-name' }, readOnly ? 'Open a market' : 'Open or start a market'),
    el('input', { id: 'open-market-name', name: 'market', required: true, maxlength: '200', autocomplete: 'off' }),
    el('button', { type: 'submit' }, 'Open'),
  )
  main.replaceChildren(el('h1', {}, 'Markets'), table, open)

  const load = async () => {
    const { today, markets } = await request<{ today: string; markets: MarketRow[] }>('GET', 'api/markets')
    listed.clear()
    for (const market of markets) listed.add(market.name)
    caption.textContent = `Markets (${markets.length}), as of ${today}`
    const cell = (value: number | undefined, warn = false) =>
      el('td', { class: warn && value ? 'num warn' : 'num' }, value ?? '')
    replaceKeepingFocus(
      body,
      ...markets.map((market) =>
        el(
          'tr',
          { 'data-market': market.name },
          el('th', { scope: 'row' }, el('a', { href: marketHref(market.name), 'data-key': market.name }, market.name)),
          ...(market.error === undefined
            ? [cell(market.products), cell(market.units), cell(market.expired, true), cell(market.lowStock, true)]
            : [el('td', { colspan: '4', class: 'warn' }, `Unreadable: ${market.error}`)]),
        ),
      ),
    )
    if (markets.length === 0) body.append(el('tr', {}, el('td', { colspan: '5' }, 'No markets yet.')))
  }
  return { load, lists: (name: string) => listed.has(name) }
}
