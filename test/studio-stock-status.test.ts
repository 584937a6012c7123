import type { ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { ClosedError, InsufficientStockError } from '../src/index.js'
import { sendFailure } from '../src/studio/failure.js'
import { EXPIRING_WITHIN_DAYS, expiryStatus, LOW_STOCK_UNITS, summarize } from '../src/studio/stock-status.js'

describe('stock status', () => {
  it('calls a product expired after its date, expiring from today through 7 days ahead, fresh after', () => {
    expect(EXPIRING_WITHIN_DAYS).toBe(7)
    expect(expiryStatus('2023-08-07', '2023-08-08')).toBe('expired')
    expect(expiryStatus('2023-08-08', '2023-08-08')).toBe('expiring')
    expect(expiryStatus('2023-08-15', '2023-08-08')).toBe('expiring')
    expect(expiryStatus('2023-08-16', '2023-08-08')).toBe('fresh')
  })

  it('counts the 7 days across month, year and leap-day boundaries', () => {
    expect(expiryStatus('2024-01-04', '2023-12-28')).toBe('expiring')
    expect(expiryStatus('2024-01-05', '2023-12-28')).toBe('fresh')
    expect(expiryStatus('2024-03-06', '2024-02-28')).toBe('expiring')
    expect(expiryStatus('2024-03-07', '2024-02-28')).toBe('fresh')
    expect(expiryStatus('0001-01-08', '0001-01-01')).toBe('expiring')
  })

  it(`counts products with ${LOW_STOCK_UNITS} units or fewer as low on stock, empty ones included`, () => {
    const at = (quantity: number, expirationDate = '2999-01-01') => ({ quantity, expirationDate })
    expect(summarize([at(0), at(5), at(6), at(100, '2000-01-01')], '2023-08-08')).toEqual({
      products: 4,
      units: 111,
      expired: 1,
      lowStock: 2,
    })
    expect(summarize([], '2023-08-08')).toEqual({ products: 0, units: 0, expired: 0, lowStock: 0 })
  })
})

describe('studio failure answers', () => {
  const answer = (error: unknown, field?: string) => {
    const sent: { status?: number; body?: string } = {}
    const res = {
      set statusCode(status: number) {
        sent.status = status
      },
      setHeader() {},
      end(body: string) {
        sent.body = body
      },
    } as unknown as ServerResponse
    sendFailure(res, error, field)
    return { status: sent.status, error: JSON.parse(sent.body ?? '{}').error }
  }

  it('maps library errors to statuses by code and names the field they concern', () => {
    expect(answer(new InsufficientStockError('m', 'p', 1, -2))).toMatchObject({
      status: 409,
      error: { code: 'INSUFFICIENT_STOCK', field: 'delta' },
    })
    expect(answer(new ClosedError())).toMatchObject({ status: 503, error: { code: 'CLOSED' } })
  })

  it('answers anything else with 500 and no detail from the error', () => {
    expect(answer(new Error('secret /etc/shadow'))).toEqual({
      status: 500,
      error: { code: 'INTERNAL', message: 'The studio failed to answer; see the server log' },
    })
    expect(answer(undefined).status).toBe(500)
  })
})
