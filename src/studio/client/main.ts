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

const list = market === null ? marketList(main, readOnly) : undefined
const refresh = serialRefresher(list ? list.load : marketView(main, market as string, readOnly))
void refresh()
followLive(status, refresh, (event) => {
  // An activation changes no numbers, it can only bring a market the list lacks. Refetching on every one would
  // loop when actors passivate quickly: the refetch itself activates them again.
  if (event.type === 'activate') {
    if (list && !list.lists(event.market)) void refresh()
    return
  }
  // The list shows every market, so every change concerns it; a market's view follows its own market only.
  if (list || event.market === market) void refresh()
})
