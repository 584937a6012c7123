import { Worker } from 'node:worker_threads'

/**
 * The physical limit for many writers: `writers` threads, each a bare synchronous loop of the same durable
 * replace as `durableReplaceLoop` (temp write, fsync, close, rename, directory fsync), on distinct files.
 * With `once`, the threads share the files between them and replace each exactly once (many-markets: one
 * first write per market); otherwise writer k replaces file k again and again for `durationMs`.
 */
const source = `
const fs = process.getBuiltinModule('node:fs')
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads')
const { dir, fileNames, bytes, writer, once, shared } = workerData
const counter = new Int32Array(shared, 0, 2)
const deadline = new Float64Array(shared, 8, 1)
const latencies = []
const dirFd = fs.openSync(dir, 'r')
// Every writer starts at once, when the last one is ready: starting 16 threads on a busy machine takes long.
parentPort.postMessage('ready')
Atomics.wait(counter, 1, 0)
const until = deadline[0]
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

/** `counter[0]`: next file (once); `counter[1]`: 1 once started; then the deadline as a Float64 (wall ms). */
export async function parallelDurableReplace(
  dir: string,
  fileNames: string[],
  bytes: Uint8Array,
  options: { writers: number } & ({ once: true } | { once: false; durationMs: number }),
): Promise<ParallelRun> {
  const shared = new SharedArrayBuffer(16)
  const counter = new Int32Array(shared, 0, 2)
  let ready = 0
  let release: () => void = () => {}
  const allReady = new Promise<void>((resolve) => {
    release = resolve
  })
  const runs = Array.from(
    { length: options.writers },
    (_, writer) =>
      new Promise<number[]>((resolve, reject) => {
        const worker = new Worker(source, {
          eval: true,
          workerData: { dir, fileNames, bytes, writer, once: options.once, shared },
        })
        worker.on('message', (message: number[] | 'ready') => {
          if (message !== 'ready') return resolve(message)
          if (++ready === options.writers) release()
        })
        worker.once('error', reject)
      }),
  )
  await allReady
  const started = performance.now()
  // A thread's performance.now() counts from its own start: the deadline crosses threads as wall time.
  new Float64Array(shared, 8, 1)[0] = options.once ? 0 : Date.now() + options.durationMs
  Atomics.store(counter, 1, 1)
  Atomics.notify(counter, 1)
  const latencies = (await Promise.all(runs)).flat()
  return { latencies, elapsedMs: performance.now() - started }
}
