/// <reference lib="dom" />

/** What the server pushes: a durable change, or a market whose actor just started. */
export interface LiveEvent {
  type: 'change' | 'activate'
  market: string
}

/** The stream's state as a tab shows it; `stream` names one connection, so a new one is told from the same one. */
interface StreamState {
  state: 'live' | 'offline'
  stream: string
}

/** What the tab holding the stream tells the others, and what a tab that just opened asks. */
type Relay = { kind: 'state'; state: StreamState } | { kind: 'event'; event: LiveEvent } | { kind: 'ask' }

interface StreamListener {
  onState: (state: StreamState) => void
  onEvent: (event: LiveEvent) => void
}

/** Opens the server's event stream. The browser retries a dropped stream itself; a refused one (an HTTP error) is retried here. */
function openStream(url: string, listener: StreamListener): void {
  let retry: ReturnType<typeof setTimeout> | undefined
  let stream = ''
  const open = () => {
    const source = new EventSource(url)
    source.addEventListener('open', () => {
      stream = `${Date.now()}-${Math.random()}`
      listener.onState({ state: 'live', stream })
    })
    for (const type of ['change', 'activate'] as const) {
      source.addEventListener(type, (message) => {
        const { market } = JSON.parse((message as MessageEvent<string>).data) as { market: string }
        listener.onEvent({ type, market })
      })
    }
    source.addEventListener('error', () => {
      listener.onState({ state: 'offline', stream })
      if (source.readyState !== EventSource.CLOSED) return
      clearTimeout(retry)
      retry = setTimeout(open, 1000)
    })
  }
  open()
}

/**
 * Follows the server's event stream. `onConnect` runs on every (re)connection, so a page that lost the
 * stream refetches and catches up on whatever it missed.
 *
 * All the studio's tabs in one browser share one stream. A stream holds an HTTP/1.1 connection for good and a
 * browser opens six per host, so six tabs with a stream each would leave none for their own fetches or a
 * seventh tab, and every tab would stop updating. The tab that holds a Web Lock opens the stream and relays
 * it on a BroadcastChannel; when that tab closes, the lock passes to another, which opens its own stream
 * (each tab refetches when it sees a new stream, so nothing is missed in between). Where Web Locks are
 * missing (a page served over plain http from another machine is not a secure context), each tab opens its own.
 */
export function followLive(status: HTMLElement, onConnect: () => void, onEvent: (event: LiveEvent) => void): void {
  let seen = ''
  const show = ({ state, stream }: StreamState) => {
    status.dataset.state = state
    status.textContent = state === 'live' ? 'Live' : 'Reconnecting…'
    if (state !== 'live' || stream === seen) return
    seen = stream
    onConnect()
  }
  const url = new URL('api/events', document.baseURI).href
  if (!('locks' in navigator) || typeof BroadcastChannel !== 'function') {
    openStream(url, { onState: show, onEvent })
    return
  }
  // Named after the stream's URL: two studios served from one origin (two base paths) do not mix.
  const name = `market-system studio ${url}`
  const channel = new BroadcastChannel(name)
  let leading: StreamState | undefined
  const relay = (message: Relay) => channel.postMessage(message)
  channel.addEventListener('message', ({ data }: MessageEvent<Relay>) => {
    if (leading) {
      if (data.kind === 'ask' && leading.stream !== '') relay({ kind: 'state', state: leading })
    } else if (data.kind === 'state') show(data.state)
    else if (data.kind === 'event') onEvent(data.event)
  })
  relay({ kind: 'ask' })
  // Held until this page goes away (the promise never settles): then the browser hands the lock to the next tab.
  void navigator.locks.request(name, () => {
    leading = { state: 'offline', stream: '' }
    openStream(url, {
      onState: (state) => {
        leading = state
        relay({ kind: 'state', state })
        show(state)
      },
      onEvent: (event) => {
        relay({ kind: 'event', event })
        onEvent(event)
      },
    })
    return new Promise<never>(() => {})
  })
}
