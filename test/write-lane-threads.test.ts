import { describe, expect, it } from 'vitest'
import { LaneThreads } from '../src/file-database/lane-threads.js'
import type { FileWrite, FileWriter } from '../src/file-database/write-files.js'

/** A writer whose every write waits until the test answers it. */
class HeldWriter implements FileWriter {
  alive = true
  readonly writes: { files: FileWrite[]; answer: (results: (Error | undefined)[]) => void; die: (e: Error) => void }[] =
    []
  write(files: FileWrite[]): Promise<(Error | undefined)[]> {
    return new Promise((answer, die) => this.writes.push({ files, answer, die }))
  }
  async close(): Promise<void> {
    this.alive = false
  }
}

const file = (name: string): FileWrite => ({ target: name, temp: `${name}.tmp`, data: name })

function threadsOf(count: number) {
  const writers: HeldWriter[] = []
  const threads = new LaneThreads(count, () => {
    const writer = new HeldWriter()
    writers.push(writer)
    return writer
  })
  return { threads, writers }
}

describe('LaneThreads', () => {
  it('splits a batch into one share per thread, in order', async () => {
    const { threads, writers } = threadsOf(2)
    const done = threads.write(['a', 'b', 'c'].map(file))
    expect(writers.map((writer) => writer.writes[0]?.files.map((f) => f.data))).toEqual([['a', 'b'], ['c']])
    writers[0]?.writes[0]?.answer([undefined, undefined])
    writers[1]?.writes[0]?.answer([undefined])
    expect(await done).toEqual([undefined, undefined, undefined])
  })

  it('fails a dead thread’s share only once the other share has settled, and replaces the dead thread', async () => {
    const { threads, writers } = threadsOf(2)
    let settled = false
    const done = threads.write(['a', 'b'].map(file)).finally(() => {
      settled = true
    })
    const death = new Error('write thread exited with code 1')
    ;(writers[0] as HeldWriter).alive = false
    writers[0]?.writes[0]?.die(death)
    await new Promise((resolve) => setImmediate(resolve))
    expect(settled).toBe(false)
    writers[1]?.writes[0]?.answer([undefined])
    expect(await done).toEqual([death, undefined])
    const next = threads.write([file('a')])
    expect(writers).toHaveLength(3)
    writers[2]?.writes[0]?.answer([undefined])
    expect(await next).toEqual([undefined])
  })

  it('fails only the share whose thread cannot be started, once the started share has settled, and retries the start later', async () => {
    const writers: HeldWriter[] = []
    let refuse = true
    const threads = new LaneThreads(2, () => {
      // As `new Worker` does when the OS refuses a thread (ERR_WORKER_INIT_FAILED).
      if (writers.length === 1 && refuse) throw new Error('Worker initialization failure: EAGAIN')
      const writer = new HeldWriter()
      writers.push(writer)
      return writer
    })
    let settled = false
    const done = threads.write(['a', 'b'].map(file)).finally(() => {
      settled = true
    })
    await new Promise((resolve) => setImmediate(resolve))
    expect(settled).toBe(false)
    expect(writers).toHaveLength(1)
    writers[0]?.writes[0]?.answer([undefined])
    expect(await done).toEqual([undefined, new Error('Worker initialization failure: EAGAIN')])
    refuse = false
    const next = threads.write(['a', 'b'].map(file))
    expect(writers).toHaveLength(2)
    writers[0]?.writes[1]?.answer([undefined])
    writers[1]?.writes[0]?.answer([undefined])
    expect(await next).toEqual([undefined, undefined])
  })

  it('fails every file of a share a thread answered only in part, rather than read the gap as success', async () => {
    const { threads, writers } = threadsOf(1)
    const done = threads.write(['a', 'b'].map(file))
    writers[0]?.writes[0]?.answer([undefined])
    const results = await done
    expect(results).toHaveLength(2)
    for (const result of results) expect(result).toBeInstanceOf(Error)
  })

  it('closes every started thread, even when one fails to close', async () => {
    const { threads, writers } = threadsOf(2)
    const done = threads.write(['a', 'b'].map(file))
    for (const writer of writers) writer.writes[0]?.answer([undefined])
    await done
    ;(writers[0] as HeldWriter).close = () => Promise.reject(new Error('died while closing'))
    await threads.close()
    expect(writers[1]?.alive).toBe(false)
  })
})
