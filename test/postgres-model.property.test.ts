// The model test across instances: random calls through two caches on one PostgreSQL table, issued together,
// with restarts of an instance. Each instance applies its own calls to a market in call order and the
// database orders the instances' stores, so the outcomes must equal the reference model applied to some
// merge of the two instances' call sequences (per market), and both instances must then read the model.
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { afterEach, expect, it } from 'vitest'
import { MarketCache, type MarketStock, type Product } from '../src/index.js'
import { PostgresDatabase } from '../src/postgres.js'
import { describePostgres, postgresUrl, usePostgresTables } from './helpers/postgres-tables.js'

const table = usePostgresTables()
const MARKETS = ["Bob's list", '🍎 \ud800'] as const

type Kind = 'add' | 'get' | 'list' | 'update' | 'delete' | 'adjust'
interface OpSpec {
  instance: number
  market: number
  kind: Kind
  product: Product
  idPick: number
  delta: number
}
type Step = { t: 'ops'; ops: OpSpec[] } | { t: 'restart'; instance: number }
type Outcome = { ok: unknown } | { error: string }
type Model = Map<string, Product>

const product: fc.Arbitrary<Product> = fc.record({
  name: fc.constantFrom('linguissa', 'ß', '🍋 lemon'),
  quantity: fc.integer({ min: 0, max: 6 }),
  expirationDate: fc.constantFrom('2023-08-08', '2024-02-29'),
  price: fc.integer({ min: 0, max: 10_000 }).map((cents) => cents / 100),
})
const opSpec: fc.Arbitrary<OpSpec> = fc.record({
  instance: fc.nat(1),
  market: fc.nat(MARKETS.length - 1),
  kind: fc.constantFrom<Kind>('add', 'add', 'get', 'list', 'update', 'delete', 'adjust', 'adjust', 'adjust'),
  product,
  idPick: fc.nat(),
  delta: fc.integer({ min: -4, max: 3 }),
})
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ t: fc.constant('ops' as const), ops: fc.array(opSpec, { minLength: 1, maxLength: 6 }) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), instance: fc.nat(1) }) },
)

/** One call applied to the model: its outcome (errors by class name). */
function apply(model: Model, spec: OpSpec, id: string): Outcome {
  switch (spec.kind) {
    case 'add':
      model.set(id, { ...spec.product })
      return { ok: id }
    case 'get':
      return { ok: model.get(id) }
    case 'list':
      return { ok: [...model].map(([key, value]) => ({ id: key, ...value })) }
    case 'update':
      if (!model.has(id)) return { error: 'ProductNotFoundError' }
      model.set(id, { ...spec.product })
      return { ok: undefined }
    case 'delete':
      return { ok: model.delete(id) }
    case 'adjust': {
      const found = model.get(id)
      if (!found) return { error: 'ProductNotFoundError' }
      if (found.quantity + spec.delta < 0) return { error: 'InsufficientStockError' }
      if (spec.delta !== 0) model.set(id, { ...found, quantity: found.quantity + spec.delta })
      return { ok: found.quantity + spec.delta }
    }
  }
}

interface Issued {
  spec: OpSpec
  id: string
  outcome: Outcome
}

/**
 * A model after some merge of `a` and `b` (each kept in order) that explains every outcome and that `accept`s
 * (the state read afterwards: outcomes alone do not tell the order of two adds), or undefined.
 */
function explain(model: Model, a: Issued[], b: Issued[], accept: (model: Model) => boolean): Model | undefined {
  if (a.length === 0 && b.length === 0) return accept(model) ? model : undefined
  for (const [next, rest, other] of [
    [a[0], a.slice(1), b],
    [b[0], b.slice(1), a],
  ] as const) {
    if (!next) continue
    const copy = new Map(model)
    if (!isDeepStrictEqual(apply(copy, next.spec, next.id), next.outcome)) continue
    const found = next === a[0] ? explain(copy, rest, other, accept) : explain(copy, other, rest, accept)
    if (found) return found
  }
  return undefined
}

const caches: MarketCache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

describePostgres('Model across two instances on one PostgreSQL', () => {
  it("gives outcomes of the reference model applied in some order of the instances' calls, and reads it afterwards", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps) => {
        const name = await table()
        let ids = 0
        const start = () =>
          MarketCache.start({
            database: new PostgresDatabase({ connectionString: postgresUrl, table: name }),
            generateId: () => `p${ids++}`,
          }).then((cache) => {
            caches.push(cache)
            return cache
          })
        const instances = [await start(), await start()]
        const models: Model[] = MARKETS.map(() => new Map())
        const known: string[][] = MARKETS.map(() => [])
        for (const each of steps) {
          if (each.t === 'restart') {
            await instances[each.instance]?.close()
            instances[each.instance] = await start()
            continue
          }
          const issued = each.ops.map((spec) => {
            const market = (instances[spec.instance] as MarketCache).market(MARKETS[spec.market] as string)
            const ids = known[spec.market] as string[]
            const id = ids.length === 0 ? `missing${spec.idPick % 3}` : (ids[spec.idPick % ids.length] as string)
            return { spec, id, promise: call(market, spec, id) }
          })
          const settled = await Promise.allSettled(issued.map(({ promise }) => promise))
          const results: Issued[] = issued.map(({ spec, id }, i) => {
            const result = settled[i] as PromiseSettledResult<unknown>
            const outcome: Outcome =
              result.status === 'fulfilled'
                ? { ok: result.value }
                : { error: (result.reason as Error).constructor.name }
            return { spec, id: spec.kind === 'add' && 'ok' in outcome ? (outcome.ok as string) : id, outcome }
          })
          for (const [index, market] of MARKETS.entries()) {
            const mine = results.filter((result) => result.spec.market === index)
            const listed = await (instances[0] as MarketCache).market(market).listProducts()
            const found = explain(
              models[index] as Model,
              mine.filter((result) => result.spec.instance === 0),
              mine.filter((result) => result.spec.instance === 1),
              (model) =>
                isDeepStrictEqual(
                  [...model].map(([key, value]) => ({ id: key, ...value })),
                  listed,
                ),
            )
            if (!found)
              throw new Error(`no order of ${JSON.stringify(mine)} explains them and ${JSON.stringify(listed)}`)
            models[index] = found
            for (const result of mine) if (result.spec.kind === 'add') (known[index] as string[]).push(result.id)
            // The other instance, asked afterwards, reads the same.
            expect(await (instances[1] as MarketCache).market(market).listProducts()).toEqual(listed)
          }
        }
        await Promise.all(instances.map((instance) => instance.close()))
      }),
      // FC_NUM_RUNS lowers this for mutation testing, where every mutant reruns the property.
      { numRuns: Number(process.env.FC_NUM_RUNS) || 25 },
    )
  })
})

function call(market: MarketStock, spec: OpSpec, id: string): Promise<unknown> {
  switch (spec.kind) {
    case 'add':
      return market.addProduct(spec.product)
    case 'get':
      return market.getProduct(id)
    case 'list':
      return market.listProducts()
    case 'update':
      return market.updateProduct(id, spec.product)
    case 'delete':
      return market.deleteProduct(id)
    case 'adjust':
      return market.adjustQuantity(id, spec.delta)
  }
}
