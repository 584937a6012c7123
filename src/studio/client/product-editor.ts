/// <reference lib="dom" />
import { ApiError, type Item, productPath, productsPath, request } from './api.js'
import { el } from './dom.js'

const FIELDS = [
  { key: 'name', label: 'Name', attributes: { type: 'text', maxlength: '200', autocomplete: 'off' } },
  { key: 'quantity', label: 'Quantity', attributes: { type: 'number', min: '0', step: '1', inputmode: 'numeric' } },
  { key: 'expirationDate', label: 'Expiration date', attributes: { type: 'date' } },
  { key: 'price', label: 'Price', attributes: { type: 'number', min: '0', step: '0.01', inputmode: 'decimal' } },
] as const

/** An input with its label and the place its error is shown, tied together for screen readers. */
function field(id: string, label: string, attributes: Record<string, string>) {
  const error = el('span', { id: `${id}-error`, class: 'error', role: 'alert' })
  const input = el('input', { id, ...attributes, 'aria-describedby': error.id })
  return { input, error, element: el('div', { class: 'field' }, el('label', { for: id }, label), input, error) }
}

/** Shows `error` next to the field it concerns, or at `fallback` when it names none of them. */
function showError(
  error: unknown,
  fields: Record<string, { input: HTMLInputElement; error: HTMLElement }>,
  fallback: HTMLElement,
) {
  const message = error instanceof Error ? error.message : String(error)
  const target = error instanceof ApiError && error.field !== undefined ? fields[error.field] : undefined
  if (!target) {
    fallback.textContent = message
    return
  }
  target.error.textContent = message
  target.input.setAttribute('aria-invalid', 'true')
  target.input.focus()
}

function clearErrors(fields: Record<string, { input: HTMLInputElement; error: HTMLElement }>, fallback: HTMLElement) {
  fallback.textContent = ''
  for (const { input, error } of Object.values(fields)) {
    error.textContent = ''
    input.removeAttribute('aria-invalid')
  }
}

/** An empty number input is sent as `''`, so the server names the field instead of storing 0. */
const numberOf = (input: HTMLInputElement) => (input.value.trim() === '' ? input.value : Number(input.value))

/**
 * The forms that change a market: add or edit a product, and adjust a quantity. They live outside the
 * product table, so live updates of the table never wipe what the user is typing.
 */
export function productEditor(market: string, changed: () => void) {
  const status = el('p', { class: 'status', role: 'status' })
  const heading = el('h2', { id: 'product-form-title' }, 'Add a product')
  const formError = el('p', { class: 'error', role: 'alert' })
  const fields = Object.fromEntries(
    FIELDS.map(({ key, label, attributes }) => [key, field(`product-${key}`, label, attributes)]),
  ) as Record<(typeof FIELDS)[number]['key'], ReturnType<typeof field>>
  const submit = el('button', { type: 'submit' }, 'Add')
  const cancel = el('button', { type: 'button', hidden: true }, 'Cancel')
  const form = el(
    'form',
    { class: 'product-form', novalidate: true, 'aria-labelledby': heading.id },
    heading,
    ...Object.values(fields).map((entry) => entry.element),
    formError,
    el('div', { class: 'actions' }, submit, cancel),
  )
  let editing: string | undefined

  const reset = () => {
    editing = undefined
    form.reset()
    clearErrors(fields, formError)
    heading.textContent = 'Add a product'
    submit.textContent = 'Add'
    cancel.hidden = true
  }
  cancel.addEventListener('click', reset)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    clearErrors(fields, formError)
    const product = {
      name: fields.name.input.value,
      quantity: numberOf(fields.quantity.input),
      expirationDate: fields.expirationDate.input.value,
      price: numberOf(fields.price.input),
    }
    try {
      if (editing === undefined) await request('POST', productsPath(market), product)
      else await request('PUT', productPath(market, editing), product)
      status.textContent = `${editing === undefined ? 'Added' : 'Saved'} “${product.name.trim()}”.`
      reset()
      changed()
    } catch (error) {
      showError(error, fields, formError)
    }
  })

  const adjustTitle = el('h2', { id: 'adjust-title' })
  const delta = field('adjust-delta', 'Change quantity by (negative to take out)', { type: 'number', step: '1' })
  const adjustError = el('p', { class: 'error', role: 'alert' })
  const adjustCancel = el('button', { type: 'button' }, 'Close')
  const adjustForm = el(
    'form',
    { class: 'adjust-form', novalidate: true, hidden: true, 'aria-labelledby': adjustTitle.id },
    adjustTitle,
    delta.element,
    adjustError,
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Apply'), adjustCancel),
  )
  let adjusting: Item | undefined
  adjustCancel.addEventListener('click', () => {
    adjustForm.hidden = true
  })
  adjustForm.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (!adjusting) return
    clearErrors({ delta }, adjustError)
    try {
      const path = productPath(market, adjusting.id, '/adjust')
      const { quantity } = await request<{ quantity: number }>('POST', path, { delta: numberOf(delta.input) })
      status.textContent = `“${adjusting.name}” now has ${quantity}.`
      adjustForm.hidden = true
      changed()
    } catch (error) {
      showError(error, { delta }, adjustError)
    }
  })

  return {
    element: el('section', { class: 'editor', 'aria-label': 'Change stock' }, status, adjustForm, form),
    edit(item: Item) {
      reset()
      editing = item.id
      heading.textContent = `Edit “${item.name}”`
      submit.textContent = 'Save'
      cancel.hidden = false
      fields.name.input.value = item.name
      fields.quantity.input.value = String(item.quantity)
      fields.expirationDate.input.value = item.expirationDate
      fields.price.input.value = String(item.price)
      fields.name.input.focus()
    },
    adjust(item: Item) {
      adjusting = item
      clearErrors({ delta }, adjustError)
      adjustTitle.textContent = `Adjust “${item.name}” (${item.quantity} in stock)`
      delta.input.value = ''
      adjustForm.hidden = false
      delta.input.focus()
    },
  }
}
