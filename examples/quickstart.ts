// The seed's story: Bob keeps a list of stock in a market that survives restarts.
// Run it twice: the second run finds what the first one left in ./persist.
import { MarketCache } from '../src/index.js'

const cache = await MarketCache.start({ dataDir: './persist' })
try {
  const bobs = cache.market("Bob's list")
  console.log(`Bob's list holds ${(await bobs.listProducts()).length} product(s) from earlier runs`)

  const id = await bobs.addProduct({ name: 'linguissa', quantity: 5, expirationDate: '2023-08-08', price: 23.45 })
  console.log('added linguissa as', id)
  console.log('get     ->', await bobs.getProduct(id))

  await bobs.updateProduct(id, { name: 'linguissa', quantity: 10, expirationDate: '2023-08-15', price: 24.99 })
  console.log('updated ->', await bobs.getProduct(id))

  console.log('sold 3, left', await bobs.adjustQuantity(id, -3))
  console.log('delete  ->', await bobs.deleteProduct(id))
  console.log('get     ->', await bobs.getProduct(id))
  console.log('markets ->', await cache.markets())
} finally {
  await cache.close()
}
