import type { MarketActor } from './market-actor.js'
import * as operations from './operations.js'
import {
  type Product,
  type ProductInput,
  parseDelta,
  parseNewId,
  parseProduct,
  parseProductId,
  type StockItem,
} from './product.js'

/**
 * A handle on one market's actor, from `cache.market(name)`. Handles are cheap and never go
 * stale: after idle passivation the next call re-activates the market with a fresh `load`.
 *
 * Every call is a message in the market's FIFO mailbox, applied in call order, and its promise
 * settles only once every change applied before it is durable.
 * Besides the errors listed per method, any call may reject with `PersistenceError`,
 * `CorruptDataError`, `MailboxFullError` or `ClosedError`.
 */
export class MarketStock {
  readonly #name: string
  readonly #actor: () => MarketActor
  readonly #generateId: () => string

  /** @internal Use `cache.market(name)`. */
  constructor(name: string, actor: () => MarketActor, generateId: () => string) {
    this.#name = name
    this.#actor = actor
    this.#generateId = generateId
  }

  /** The market's name, exactly as given to `cache.market(name)`; read-only. */
  get name(): string {
    return this.#name
  }

  /**
   * Adds a product and resolves to its new id once it is durable.
   * @example
   * ```ts
   * const id = await stock.addProduct({ name: 'linguissa', quantity: 5, expirationDate: '2023-08-08', price: 23.45 })
   * ```
   * @throws {ValidationError} when `input` does not satisfy `productSchema`, or a custom `generateId`
   * returned an id already in use or one that looks like an array index (`'10'`).
   */
  async addProduct(input: ProductInput): Promise<string> {
    const product = parseProduct(input)
    return this.#actor().call(operations.addProduct(parseNewId(this.#generateId()), product))
  }

  /**
   * Resolves to a copy of the product, or `undefined` when the market has no such id.
   * @example
   * ```ts
   * const product = await stock.getProduct(id) // { name, quantity, expirationDate, price }
   * ```
   */
  async getProduct(id: string): Promise<Product | undefined> {
    return this.#actor().call(operations.getProduct(parseProductId(id)))
  }

  /**
   * Resolves to every product with its id, in insertion order.
   * @example
   * ```ts
   * for (const { id, name, quantity } of await stock.listProducts()) console.log(id, name, quantity)
   * ```
   */
  async listProducts(): Promise<StockItem[]> {
    return this.#actor().call(operations.listProducts())
  }

  /**
   * Replaces the whole product.
   * @example
   * ```ts
   * await stock.updateProduct(id, { name: 'linguissa', quantity: 10, expirationDate: '2023-08-15', price: 24.99 })
   * ```
   * @throws {ValidationError} when `input` does not satisfy `productSchema`.
   * @throws {ProductNotFoundError} when the market has no such id.
   */
  async updateProduct(id: string, input: ProductInput): Promise<void> {
    const productId = parseProductId(id)
    const product = parseProduct(input)
    return this.#actor().call(operations.updateProduct(productId, product))
  }

  /**
   * Deletes the product; resolves to `true` if it existed, `false` if not.
   * @example
   * ```ts
   * await stock.deleteProduct(id) // true
   * ```
   */
  async deleteProduct(id: string): Promise<boolean> {
    return this.#actor().call(operations.deleteProduct(parseProductId(id)))
  }

  /**
   * Adds `delta` (negative to take stock out) to the quantity atomically; resolves to the new quantity.
   * @example
   * ```ts
   * const left = await stock.adjustQuantity(id, -2) // a sale of two
   * ```
   * @throws {ValidationError} when `delta` is not a safe integer.
   * @throws {ProductNotFoundError} when the market has no such id.
   * @throws {InsufficientStockError} when the quantity would go below zero; nothing changes.
   */
  async adjustQuantity(id: string, delta: number): Promise<number> {
    const productId = parseProductId(id)
    return this.#actor().call(operations.adjustQuantity(productId, parseDelta(delta)))
  }
}
