import { Worker } from 'node:worker_threads'

/**
 * The physical limit for many writers: `writers` threads, each a bare synchronous loop of the same durable
 * replace as `durableReplaceLoop` (temp write, fsync, close, rename, directory fsync), on distinct files.
 * With `once`, the threads share the files between them and replace each exactly once (many-markets: one
 * first write per market); otherwise writer k replaces file k again and again until `until`.
 */
const source = `
const fs = process.getBuiltinModule('node:fs')
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads')
const { dir, fileNames, bytes, writer, writers, once, until, next } = workerData
const counter = new Int32Array(next)
const latencies = []
const dirFd = fs.openSync(dir, 'r')
const replace = (fileName) => {
  const started = performance.now()
  const target = dir + '/' + fileName
  const temp = target + '.tmp'
  const fd = fs.openSync(temp, 'w')
  let offset = 0
  while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset)
  fs.fsyncSync(fd)
  fs.closeSync(fd)
  fs.renameSync(temp, target)
  fs.fsyncSync(dirFd)
  latencies.push(performance.now() - started)
}
if (once) {
  for (let i = Atomics.add(counter, 0, 1); i < fileNames.length; i = Atomics.add(counter, 0, 1)) replace(fileNames[i])
} else {
  while (Date.now() < until) replace(fileNames[writer % fileNames.length])
}
fs.closeSync(dirFd)
parentPort.postMessage(latencies)
`

export interface ParallelRun {
  latencies: number[]
  elapsedMs: number
}

export async function parallelDurableReplace(
  dir: string,
  fileNames: string[],
  bytes: Uint8Array,
  options: { writers: number } & ({ once: true } | { once: false; durationMs: number }),
): Promise<ParallelRun> {
  const next = new SharedArrayBuffer(4)
  const started = performance.now()
  // A thread's performance.now() counts from its own start: the deadline crosses threads as wall time.
  const until = options.once ? 0 : Date.now() + options.durationMs
  const runs = Array.from(
    { length: options.writers },
    (_, writer) =>
      new Promise<number[]>((resolve, reject) => {
        const worker = new Worker(source, {
          eval: true,
          workerData: { dir, fileNames, bytes, writer, writers: options.writers, once: options.once, until, next },
        })
        worker.once('message', resolve)
        worker.once('error', reject)
      }),
  )
  const latencies = (await Promise.all(runs)).flat()
  // Timed runs count over the window they were given (thread start-up, about 2 ms each, is inside it).
  return { latencies, elapsedMs: options.once ? performance.now() - started : options.durationMs }
}
