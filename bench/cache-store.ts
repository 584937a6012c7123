import type { MarketCache, MarketStock } from '../src/index.js'
import type { Store } from './systems.js'

/** The bench's `Store` over a started MarketCache, whatever its database: one handle per market, reused. */
export function cacheStore(cache: MarketCache): Store {
  let stores = 0
  cache.on('persisted', () => stores++)
  const handles = new Map<string, MarketStock>()
  const handle = (market: string) => {
    let stock = handles.get(market)
    if (!stock) {
      stock = cache.market(market)
      handles.set(market, stock)
    }
    return stock
  }
  return {
    add: (market, product) => handle(market).addProduct(product),
    get: (market, id) => handle(market).getProduct(id),
    update: (market, id, product) => handle(market).updateProduct(id, product),
    adjust: (market, id, delta) => handle(market).adjustQuantity(id, delta),
    stores: () => stores,
    async release() {
      handles.clear()
      // Passivation is the library's own timer: wait until every actor has been released.
      while (cache.stats().activeMarkets > 0) await new Promise((resolve) => setTimeout(resolve, 50))
    },
    close: () => cache.close(),
  }
}
