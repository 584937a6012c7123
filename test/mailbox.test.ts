import { describe, expect, it } from 'vitest'
import { Mailbox } from '../src/mailbox.js'

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
    capacity: 3,
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
    mailbox.offer('a')
    mailbox.offer('b')
    mailbox.offer('c')
    expect(log).toEqual(['start a'])
    expect(mailbox.busy).toBe(true)
    gates.get('a')?.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
    expect(mailbox.busy).toBe(false)
  })

  it('refuses a message once capacity messages are waiting, and accepts again after draining', async () => {
    const gate = deferred()
    const { mailbox } = recorder((message) => (message === 'slow' ? gate.promise : undefined))
    mailbox.offer('slow')
    expect([mailbox.offer('1'), mailbox.offer('2'), mailbox.offer('3')]).toEqual([true, true, true])
    expect(mailbox.size).toBe(3)
    expect(mailbox.offer('4')).toBe(false)
    gate.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    expect(mailbox.size).toBe(0)
    expect(mailbox.offer('5')).toBe(true)
  })

  it('runs system messages ahead of waiting caller messages without counting them', async () => {
    const gate = deferred()
    const { mailbox, log } = recorder((message) => (message === 'slow' ? gate.promise : undefined))
    mailbox.offer('slow')
    mailbox.offer('caller')
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
    mailbox.offer('throws')
    mailbox.offer('rejects')
    mailbox.offer('fine')
    await new Promise((resolve) => setImmediate(resolve))
    expect(errors.map((error) => (error as Error).message)).toEqual(['sync', 'async'])
    expect(log).toContain('end fine')
  })

  it('hands back waiting messages with takeAll and reports idleness', () => {
    const gate = deferred()
    const { mailbox, idleCount } = recorder(() => gate.promise)
    mailbox.offer('running')
    mailbox.offer('x')
    mailbox.offer('y')
    expect(mailbox.takeAll()).toEqual(['x', 'y'])
    expect(mailbox.size).toBe(0)
    expect(idleCount()).toBe(0)
  })

  it('stays FIFO across thousands of waiting messages (queue compaction)', async () => {
    const gate = deferred()
    const seen: number[] = []
    const mailbox = new Mailbox<number>({
      capacity: 10_000,
      handle: (n) => {
        seen.push(n)
        if (n === 0 || n === 3000) return gate.promise
      },
      onError: () => {},
      onIdle: () => {},
    })
    for (let i = 0; i < 5000; i++) mailbox.offer(i)
    expect(mailbox.size).toBe(4999)
    gate.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    for (let i = 5000; i < 6000; i++) mailbox.offer(i)
    await new Promise((resolve) => setImmediate(resolve))
    expect(seen).toEqual(Array.from({ length: 6000 }, (_, i) => i))
  })
})
