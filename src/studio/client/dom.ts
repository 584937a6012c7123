/// <reference lib="dom" />
/// <reference lib="dom.iterable" />

type Child = Node | string | number | null | undefined | false

/**
 * Creates an element. Children that are strings become text nodes and attributes are set one by one, so
 * data is never parsed as HTML: a product named `<img src=x onerror=alert(1)>` shows those characters.
 *
 * @example
 * ```ts
 * el('a', { href: '?market=Anna' }, 'Anna')
 * ```
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    node.setAttribute(key, value === true ? '' : value)
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    node.append(typeof child === 'number' ? String(child) : child)
  }
  return node
}

/**
 * Replaces `parent`'s children, keeping keyboard focus on the element with the same `data-key` when there
 * is one, so a live update does not throw the user out of the table.
 */
export function replaceKeepingFocus(parent: Element, ...children: Node[]): void {
  const focused = document.activeElement
  const key = focused instanceof HTMLElement && parent.contains(focused) ? focused.dataset.key : undefined
  parent.replaceChildren(...children)
  if (key === undefined) return
  const match = [...parent.querySelectorAll<HTMLElement>('[data-key]')].find((node) => node.dataset.key === key)
  match?.focus()
}
