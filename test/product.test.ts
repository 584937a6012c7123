import { describe, expect, it } from 'vitest'
import { productSchema, ValidationError } from '../src/index.js'
import { parseDelta, parseMarketName, parseProduct } from '../src/product.js'
import { sample } from './helpers/temp-dir.js'

describe('productSchema', () => {
  it('accepts a valid product and trims its name', () => {
    expect(productSchema.parse({ ...sample, name: '  linguissa  ' })).toEqual(sample)
  })

  it.each([
    ['an empty name', { name: '   ' }],
    ['a 201-character name', { name: 'x'.repeat(201) }],
    ['a negative quantity', { quantity: -1 }],
    ['a fractional quantity', { quantity: 1.5 }],
    ['an unsafe quantity', { quantity: 2 ** 53 }],
    ['a quantity given as a string', { quantity: '5' }],
    ['February 30th', { expirationDate: '2023-02-30' }],
    ['February 29th of a common year', { expirationDate: '2023-02-29' }],
    ['month 13', { expirationDate: '2023-13-01' }],
    ['a date with a time', { expirationDate: '2023-08-08T00:00:00Z' }],
    ['a negative price', { price: -0.01 }],
    ['an infinite price', { price: Number.POSITIVE_INFINITY }],
    ['NaN as price', { price: Number.NaN }],
  ])('rejects %s', (_title, patch) => {
    expect(productSchema.safeParse({ ...sample, ...patch }).success).toBe(false)
  })

  it('counts characters as code points: 200 emoji make a valid name, 201 do not', () => {
    expect(productSchema.safeParse({ ...sample, name: '🍎'.repeat(200) }).success).toBe(true)
    expect(productSchema.safeParse({ ...sample, name: '🍎'.repeat(201) }).success).toBe(false)
    expect(parseMarketName('🍎'.repeat(200))).toBe('🍎'.repeat(200))
    expect(() => parseMarketName('🍎'.repeat(201))).toThrow(ValidationError)
  })

  it('accepts February 29th of a leap year and a 200-character name', () => {
    expect(productSchema.safeParse({ ...sample, expirationDate: '2024-02-29', name: 'x'.repeat(200) }).success).toBe(
      true,
    )
  })

  it('stores -0 as 0, as JSON will read it back', () => {
    const product = productSchema.parse({ ...sample, quantity: -0, price: -0 })
    expect(Object.is(product.quantity, 0)).toBe(true)
    expect(Object.is(product.price, 0)).toBe(true)
  })

  it('rejects an unknown key instead of stripping it', () => {
    const result = productSchema.safeParse({ ...sample, expirate_date: '2023-08-08' })
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.message).toContain('expirate_date')
  })
})

describe('boundary parsing', () => {
  it('names the field and the value in the message', () => {
    expect(() => parseProduct({ ...sample, quantity: -1 })).toThrow(
      'Expected `quantity` to be a safe integer >= 0, got `-1`',
    )
  })

  it('throws ValidationError carrying zod issues', () => {
    try {
      parseProduct({ ...sample, price: 'free' })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError)
      expect((error as ValidationError).issues[0]?.path).toEqual(['price'])
    }
  })

  it('turns a throwing getter into a ValidationError', () => {
    const hostile = {
      ...sample,
      get price(): number {
        throw new Error('boom')
      },
    }
    expect(() => parseProduct(hostile)).toThrow(ValidationError)
  })

  it('rejects a fractional or unsafe delta', () => {
    expect(() => parseDelta(0.5)).toThrow(ValidationError)
    expect(() => parseDelta(2 ** 53)).toThrow(ValidationError)
    expect(parseDelta(-3)).toBe(-3)
  })

  it.each(['', 'x'.repeat(201), 'tab\there', 'nul\u0000', 'del\u007f'])('rejects market name %j', (name) => {
    expect(() => parseMarketName(name)).toThrow(ValidationError)
  })

  it('accepts a 200-character market name with punctuation and emoji', () => {
    const name = `${'🍎'.repeat(50)}../x`
    expect(parseMarketName(name)).toBe(name)
  })
})
