import { ExitCode, type ExitCodeValue } from './cli-error.js'

/** The signals that ask a command to stop: Ctrl-C and `kill`/`docker stop`/systemd. */
export type StopSignal = 'SIGINT' | 'SIGTERM'

/** The exit code of a command a signal ended: 128 plus the signal's number, as shells report it. */
export const exitCodeFor = (signal: StopSignal): ExitCodeValue =>
  signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated

/** Handle on deferred signals: which one arrived first, if any, and `release()` to stop deferring. */
export interface DeferredSignals {
  readonly signal: StopSignal | undefined
  release(): void
}

/**
 * From now until `release()`, SIGINT and SIGTERM no longer end the process: the first is recorded (and
 * `onFirst` tells the user), so work that must not stop halfway finishes and the caller exits after it.
 * A second signal, of either kind, calls `onSecond` and ends the process at once with `exitCodeFor` it.
 *
 * @example
 * ```ts
 * const deferred = deferStopSignals({ onFirst: (signal) => warn(signal), onSecond: (signal) => warnAbort(signal) })
 * try { await writeEverything() } finally { deferred.release() }
 * if (deferred.signal) process.exitCode = exitCodeFor(deferred.signal)
 * ```
 */
export function deferStopSignals(options: {
  onFirst: (signal: StopSignal) => void
  onSecond: (signal: StopSignal) => void
  /** @default process.exit */
  exit?: (code: number) => void
}): DeferredSignals {
  const exit = options.exit ?? ((code: number) => process.exit(code))
  let first: StopSignal | undefined
  const handle = (signal: StopSignal) => {
    if (first === undefined) {
      first = signal
      options.onFirst(signal)
      return
    }
    options.onSecond(signal)
    exit(exitCodeFor(signal))
  }
  process.on('SIGINT', handle)
  process.on('SIGTERM', handle)
  return {
    get signal() {
      return first
    },
    release() {
      process.off('SIGINT', handle)
      process.off('SIGTERM', handle)
    },
  }
}
