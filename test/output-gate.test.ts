import { describe, expect, it } from 'vitest'
import { type HeldReply, OutputGate } from '../src/output-gate.js'

function reply(revision: number, log: string[], check?: { seen: number | undefined }): HeldReply<string> {
  const name = `r${revision}${check ? '?' : ''}`
  return { call: name, revision, settle: () => log.push(name), ...(check ? { check } : {}) }
}

describe('OutputGate', () => {
  it('reports clear and settles nothing when no reply is held', () => {
    const gate = new OutputGate<string>()
    expect(gate.release(0)).toBe('clear')
    expect(gate.size).toBe(0)
  })

  it('settles a reply once its revision is durable, including exactly at the durable revision', () => {
    const log: string[] = []
    const gate = new OutputGate<string>()
    const first = reply(1, log)
    gate.hold(first)
    gate.hold(reply(2, log))
    expect(gate.size).toBe(2)
    expect(gate.release(0)).toBe('waiting')
    expect(log).toEqual([])
    expect(gate.release(1)).toBe('waiting')
    expect(log).toEqual(['r1'])
    expect(first.gone).toBe(true)
    expect(gate.size).toBe(1)
    expect(gate.release(2)).toBe('clear')
    expect(log).toEqual(['r1', 'r2'])
    expect(gate.size).toBe(0)
  })

  it('releases strictly in order: a durable reply waits behind an older one that is not', () => {
    const log: string[] = []
    const gate = new OutputGate<string>()
    gate.hold(reply(3, log))
    gate.hold(reply(1, log))
    expect(gate.release(2)).toBe('waiting')
    expect(log).toEqual([])
    expect(gate.size).toBe(2)
  })

  it('holds a checked reply until its check answers, then settles it when the check found nothing newer', () => {
    const log: string[] = []
    const gate = new OutputGate<string>()
    const check: { seen: number | undefined } = { seen: undefined }
    const held = reply(1, log, check)
    gate.hold(held)
    expect(gate.release(5)).toBe('waiting')
    expect(log).toEqual([])
    check.seen = 5
    expect(gate.release(5)).toBe('clear')
    expect(log).toEqual(['r1?'])
    expect(held.gone).toBe(true)
  })

  it('reports stale when a checked reply found a newer stored revision, and keeps the reply', () => {
    const log: string[] = []
    const gate = new OutputGate<string>()
    gate.hold(reply(1, log, { seen: 2 }))
    gate.hold(reply(1, log))
    expect(gate.release(1)).toBe('stale')
    expect(log).toEqual([])
    expect(gate.size).toBe(2)
  })

  it('lists only the held replies that wait for a check, oldest first, not those already settled', () => {
    const log: string[] = []
    const gate = new OutputGate<string>()
    const settledCheck = reply(1, log, { seen: 1 })
    const change = reply(2, log)
    const firstCheck = reply(2, log, { seen: undefined })
    const secondCheck = reply(2, log, { seen: undefined })
    gate.hold(settledCheck)
    gate.hold(change)
    gate.hold(firstCheck)
    gate.hold(secondCheck)
    expect(gate.release(1)).toBe('waiting')
    expect(log).toEqual(['r1?'])
    expect(gate.checking()).toEqual([firstCheck, secondCheck])
  })

  it('removes one waiting reply and marks it gone, but not a reply it no longer holds', () => {
    const log: string[] = []
    const gate = new OutputGate<string>()
    const kept = reply(1, log)
    const removed = reply(2, log, { seen: undefined })
    const stranger = reply(3, log)
    gate.hold(kept)
    gate.hold(removed)
    expect(gate.remove(stranger)).toBe(false)
    expect(stranger.gone).toBeUndefined()
    expect(gate.size).toBe(2)
    expect(gate.remove(removed)).toBe(true)
    expect(removed.gone).toBe(true)
    expect(gate.size).toBe(1)
    expect(gate.remove(removed)).toBe(false)
    expect(gate.release(1)).toBe('clear')
    expect(log).toEqual(['r1'])
    // A settled reply is no longer held either.
    expect(gate.remove(kept)).toBe(false)
  })

  it('hands back every waiting reply, oldest first and marked gone, without settling them', () => {
    const log: string[] = []
    const gate = new OutputGate<string>()
    const first = reply(1, log)
    const second = reply(2, log)
    const third = reply(3, log)
    gate.hold(first)
    gate.hold(second)
    gate.hold(third)
    gate.release(1)
    expect(gate.takeAll()).toEqual([second, third])
    expect(second.gone).toBe(true)
    expect(third.gone).toBe(true)
    expect(gate.size).toBe(0)
    expect(log).toEqual(['r1'])
    // The gate is usable again afterwards.
    gate.hold(reply(4, log))
    expect(gate.release(4)).toBe('clear')
    expect(log).toEqual(['r1', 'r4'])
  })

  it('keeps settling in order across thousands of replies that never drain completely', () => {
    const log: string[] = []
    const gate = new OutputGate<string>()
    gate.hold(reply(1, log))
    for (let revision = 2; revision <= 3000; revision++) {
      gate.hold(reply(revision, log))
      gate.release(revision - 1)
      expect(gate.size).toBe(1)
    }
    expect(log).toHaveLength(2999)
    expect(log[2998]).toBe('r2999')
    const last = gate.checking()
    expect(last).toEqual([])
    expect(gate.takeAll().map((held) => held.call)).toEqual(['r3000'])
  })
})
