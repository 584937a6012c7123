import { InsufficientStockError, ProductNotFoundError, ValidationError } from './errors.js'
import type { Product, StockItem } from './product.js'
import type { MarketState } from './snapshot.js'

/** The kinds of change the `change` event reports. */
export type ChangeOperation = 'add' | 'update' | 'delete' | 'adjust'

/** @internal What applying one message produced; `change` is set when the state changed. */
export interface Applied<T> {
  value: T
  change?: { operation: ChangeOperation; productId: string }
}

/**
 * @internal
 * One message's work on the actor's state: synchronous, all-or-nothing, and never handing out a
 * reference to stored objects (products are flat, so a spread is a full copy).
 */
export type Operation<T> = (state: MarketState, market: string) => Applied<T>

export const addProduct =
  (id: string, product: Product): Operation<string> =>
  (state, market) => {
    // Only a custom generateId can collide; overwriting would silently lose a product.
    if (state.products.has(id))
      throw new ValidationError(`Generated id \`${id}\` is already in use in market \`${market}\``)
    state.products.set(id, product)
    return { value: id, change: { operation: 'add', productId: id } }
  }

export const getProduct =
  (id: string): Operation<Product | undefined> =>
  (state) => {
    const product = state.products.get(id)
    return { value: product && { ...product } }
  }

export const listProducts = (): Operation<StockItem[]> => (state) => ({
  value: Array.from(state.products, ([id, product]) => ({ id, ...product })),
})

export const updateProduct =
  (id: string, product: Product): Operation<void> =>
  (state, market) => {
    if (!state.products.has(id)) throw new ProductNotFoundError(market, id)
    state.products.set(id, product)
    return { value: undefined, change: { operation: 'update', productId: id } }
  }

export const deleteProduct =
  (id: string): Operation<boolean> =>
  (state) => {
    if (!state.products.delete(id)) return { value: false }
    return { value: true, change: { operation: 'delete', productId: id } }
  }

export const adjustQuantity =
  (id: string, delta: number): Operation<number> =>
  (state, market) => {
    const product = state.products.get(id)
    if (!product) throw new ProductNotFoundError(market, id)
    if (delta === 0) return { value: product.quantity }
    const quantity = product.quantity + delta
    if (quantity < 0) throw new InsufficientStockError(market, id, product.quantity, delta)
    if (!Number.isSafeInteger(quantity)) {
      throw new ValidationError(
        `Expected \`quantity\` to stay a safe integer, got \`${product.quantity} + ${delta}\` for product \`${id}\``,
      )
    }
    state.products.set(id, { ...product, quantity })
    return { value: quantity, change: { operation: 'adjust', productId: id } }
  }
