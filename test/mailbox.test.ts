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

function recorder(handle: (message: string) => void | Promise<void> = () => {}) {
  const log: string[] = []
  const errors: unknown[] = []
  let idle = 0
  const mailbox = new Mailbox<string>({
    handle: (message) => {
      log.push(`start ${message}`)
      const result = handle(message)
      if (result) return result.then(() => void log.push(`end ${message}`))
      log.push(`end ${message}`)
    },
    onError: (error) => errors.push(error),
    onIdle: () => idle++,
  })
  return { mailbox, log, errors, idleCount: () => idle }
}

describe('Mailbox', () => {
  it('runs messages in FIFO order, one to completion before the next, even when handlers are async', async () => {
    const gates = new Map([['a', deferred()]])
    const { mailbox, log } = recorder((message) => gates.get(message)?.promise)
    mailbox.post('a')
    mailbox.post('b')
    mailbox.post('c')
    expect(log).toEqual(['start a'])
    expect(mailbox.busy).toBe(true)
    gates.get('a')?.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
    expect(mailbox.busy).toBe(false)
  })

  it('puts replayed messages back ahead of waiting ones, in their order, and counts them', async () => {
    const gate = deferred()
    const { mailbox, log } = recorder((message) => (message === 'slow' ? gate.promise : undefined))
    mailbox.post('slow')
    mailbox.post('later')
    mailbox.prepend(['replay 1', 'replay 2'])
    expect(mailbox.size).toBe(3)
    gate.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    expect(log.filter((line) => line.startsWith('start'))).toEqual([
      'start slow',
      'start replay 1',
      'start replay 2',
      'start later',
    ])
  })

  it('runs system messages ahead of waiting caller messages without counting them', async () => {
    const gate = deferred()
    const { mailbox, log } = recorder((message) => (message === 'slow' ? gate.promise : undefined))
    mailbox.post('slow')
    mailbox.post('caller')
    mailbox.postFront('system')
    expect(mailbox.size).toBe(1)
    gate.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    expect(log.filter((line) => line.startsWith('start'))).toEqual(['start slow', 'start system', 'start caller'])
  })

  it('keeps draining after a handler throws or rejects', async () => {
    const { mailbox, log, errors } = recorder((message) => {
      if (message === 'throws') throw new Error('sync')
      if (message === 'rejects') return Promise.reject(new Error('async'))
    })
    mailbox.post('throws')
    mailbox.post('rejects')
    mailbox.post('fine')
    await new Promise((resolve) => setImmediate(resolve))
    expect(errors.map((error) => (error as Error).message)).toEqual(['sync', 'async'])
    expect(log).toContain('end fine')
  })

  it('hands back waiting messages with takeAll and reports idleness', () => {
    const gate = deferred()
    const { mailbox, idleCount } = recorder(() => gate.promise)
    mailbox.post('running')
    mailbox.post('x')
    mailbox.post('y')
    expect(mailbox.takeAll()).toEqual(['x', 'y'])
    expect(mailbox.size).toBe(0)
    expect(idleCount()).toBe(0)
  })

  it('stays FIFO across thousands of waiting messages (queue compaction)', async () => {
    const gate = deferred()
    const seen: number[] = []
    const mailbox = new Mailbox<number>({
      handle: (n) => {
        seen.push(n)
        if (n === 0 || n === 3000) return gate.promise
      },
      onError: () => {},
      onIdle: () => {},
    })
    for (let i = 0; i < 5000; i++) mailbox.post(i)
    expect(mailbox.size).toBe(4999)
    gate.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    for (let i = 5000; i < 6000; i++) mailbox.post(i)
    await new Promise((resolve) => setImmediate(resolve))
    expect(seen).toEqual(Array.from({ length: 6000 }, (_, i) => i))
  })
})

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
