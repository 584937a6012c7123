import { describe, expect, it } from 'vitest'
import { LaneThreads } from '../src/file-database/lane-threads.js'
import type { FileWrite, FileWriter } from '../src/file-database/write-files.js'

/** A writer that answers each write with `answer(files)`. */
class AnsweringWriter implements FileWriter {
  alive = true
  closed = false
  constructor(readonly answer: (files: FileWrite[]) => (Error | undefined)[]) {}
  async write(files: FileWrite[]): Promise<(Error | undefined)[]> {
    return this.answer(files)
  }
  async close(): Promise<void> {
    this.closed = true
    this.alive = false
  }
}

const file = (name: string): FileWrite => ({ target: name, temp: `${name}.tmp`, data: name })

describe('LaneThreads', () => {
  it('closes when only some of its threads were ever started', async () => {
    const writers: AnsweringWriter[] = []
    const threads = new LaneThreads(3, () => {
      const writer = new AnsweringWriter((files) => files.map(() => undefined))
      writers.push(writer)
      return writer
    })
    expect(await threads.write([file('a')])).toEqual([undefined])
    expect(writers).toHaveLength(1)
    await expect(threads.close()).resolves.toBeUndefined()
    expect(writers[0]?.closed).toBe(true)
  })

  it('fails the files of a share a thread answered only in part with an error naming the count', async () => {
    const threads = new LaneThreads(1, () => new AnsweringWriter(() => [undefined]))
    const results = await threads.write(['a', 'b'].map(file))
    expect(results).toEqual([
      new Error('write thread answered 1 of 2 files'),
      new Error('write thread answered 1 of 2 files'),
    ])
    await threads.close()
  })
})
