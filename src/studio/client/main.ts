/// <reference lib="dom" />
import './studio.css'
import { serialRefresher } from './api.js'
import { followLive } from './live.js'
import { marketList } from './market-list.js'
import { marketView } from './market-view.js'

// The page shell (served by the handler) carries its settings as data attributes: no inline script.
const main = document.getElementById('main') as HTMLElement
const status = document.getElementById('live') as HTMLElement
const market = new URLSearchParams(window.location.search).get('market')
const readOnly = document.body.dataset.readOnly === 'true'

const load = market === null ? marketList(main, readOnly) : marketView(main, market, readOnly)
const refresh = serialRefresher(load)
void refresh()
// The list shows every market, so any event concerns it; a market's view only follows its own market.
followLive(status, refresh, (event) => {
  if (market === null || event.market === market) void refresh()
})
