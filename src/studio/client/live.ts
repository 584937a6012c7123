/// <reference lib="dom" />

/** What the server pushes: a durable change, or a market whose actor just started. */
export interface LiveEvent {
  type: 'change' | 'activate'
  market: string
}

/**
 * Follows the server's event stream. `onConnect` runs on every (re)connection, so a page that lost the
 * stream refetches and catches up on whatever it missed. The browser retries a dropped stream itself; a
 * stream the server refused (an HTTP error) is retried here.
 */
export function followLive(status: HTMLElement, onConnect: () => void, onEvent: (event: LiveEvent) => void): void {
  let retry: ReturnType<typeof setTimeout> | undefined
  const show = (state: 'live' | 'offline', text: string) => {
    status.dataset.state = state
    status.textContent = text
  }
  const open = () => {
    const source = new EventSource('api/events')
    source.addEventListener('open', () => {
      show('live', 'Live')
      onConnect()
    })
    for (const type of ['change', 'activate'] as const) {
      source.addEventListener(type, (message) => {
        const { market } = JSON.parse((message as MessageEvent<string>).data) as { market: string }
        onEvent({ type, market })
      })
    }
    source.addEventListener('error', () => {
      show('offline', 'Reconnecting…')
      if (source.readyState !== EventSource.CLOSED) return
      clearTimeout(retry)
      retry = setTimeout(open, 1000)
    })
  }
  open()
}
