export type { Database, MarketLock, SharedDatabase } from './database.js'
export {
  ClosedError,
  ConflictError,
  CorruptDataError,
  DataDirLockedError,
  InsufficientStockError,
  MailboxFullError,
  MarketError,
  type MarketErrorCode,
  PersistenceError,
  ProductNotFoundError,
  ValidationError,
} from './errors.js'
export type { ChangeEvent, MarketCacheEvents, MarketEvent, PersistErrorEvent, PersistedEvent } from './events.js'
export { FileDatabase, type FileDatabaseOptions } from './file-database/file-database.js'
export { MarketCache, type MarketCacheOptions, type MarketCacheStats } from './market-cache.js'
export { MarketStock } from './market-stock.js'
export type { ChangeOperation } from './operations.js'
export { type Product, type ProductInput, productSchema, type StockItem } from './product.js'
export type { Snapshot } from './snapshot.js'
