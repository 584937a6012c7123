import { describe, expect, it } from 'vitest'
import { Mailbox } from '../src/mailbox.js'
import { settle } from './helpers/memory-database.js'

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

function mailboxOf(handle: (message: string) => void | Promise<void> = () => {}) {
  const handled: string[] = []
  let idle = 0
  const mailbox = new Mailbox<string>({
    handle: (message) => {
      handled.push(message)
      return handle(message)
    },
    onError: () => {},
    onIdle: () => {
      idle += 1
    },
  })
  return { mailbox, handled, idleCount: () => idle }
}

describe('Mailbox queue', () => {
  it('is not busy when empty, and reports idle once after draining a burst', async () => {
    const { mailbox, handled, idleCount } = mailboxOf()
    expect(mailbox.busy).toBe(false)
    expect(mailbox.size).toBe(0)
    mailbox.post('a')
    mailbox.post('b')
    expect(handled).toEqual(['a', 'b'])
    expect(mailbox.busy).toBe(false)
    expect(idleCount()).toBe(2)
    await settle()
    expect(idleCount()).toBe(2)
  })

  it('is busy while only a system message runs, and idle after it', async () => {
    const gate = deferred()
    const { mailbox, idleCount } = mailboxOf(() => gate.promise)
    mailbox.postFront('load')
    expect(mailbox.size).toBe(0)
    expect(mailbox.busy).toBe(true)
    expect(idleCount()).toBe(0)
    gate.resolve()
    await settle()
    expect(mailbox.busy).toBe(false)
    expect(idleCount()).toBe(1)
  })

  it('is busy with a waiting system message even before it runs', async () => {
    const gate = deferred()
    const { mailbox, handled } = mailboxOf((message) => (message === 'slow' ? gate.promise : undefined))
    mailbox.post('slow')
    mailbox.postFront('load')
    expect(handled).toEqual(['slow'])
    expect(mailbox.busy).toBe(true)
    gate.resolve()
    await settle()
    expect(handled).toEqual(['slow', 'load'])
  })

  it('counts only the caller messages still waiting', () => {
    const gate = deferred()
    const { mailbox } = mailboxOf(() => gate.promise)
    mailbox.post('running')
    mailbox.post('a')
    mailbox.post('b')
    expect(mailbox.size).toBe(2)
  })

  it('treats prepending nothing as a no-op that wakes nobody', () => {
    const { mailbox, idleCount } = mailboxOf()
    mailbox.prepend([])
    expect(idleCount()).toBe(0)
    expect(mailbox.size).toBe(0)
  })

  it('runs prepended messages on an idle mailbox at once', () => {
    const { mailbox, handled } = mailboxOf()
    mailbox.prepend(['x', 'y'])
    expect(handled).toEqual(['x', 'y'])
  })

  it('keeps its place after takeAll: messages posted afterwards run', async () => {
    const gate = deferred()
    const { mailbox, handled } = mailboxOf((message) => (message === 'running' ? gate.promise : undefined))
    mailbox.post('running')
    mailbox.post('dropped')
    expect(mailbox.takeAll()).toEqual(['dropped'])
    mailbox.post('after')
    expect(mailbox.size).toBe(1)
    gate.resolve()
    await settle()
    expect(handled).toEqual(['running', 'after'])
  })

  it('runs a system message posted by a handler before the caller messages already waiting', () => {
    const log: string[] = []
    const mailbox: Mailbox<string> = new Mailbox<string>({
      handle: (message) => {
        log.push(message)
        if (message === 'first') mailbox.postFront('system')
      },
      onError: () => {},
      onIdle: () => {},
    })
    mailbox.post('first')
    mailbox.post('second')
    expect(log).toEqual(['first', 'system', 'second'])
  })
})
