/**
 * Exit codes of `market-system`, stable so scripts can branch on them.
 * 0 success; 1 any other failure (for example a storage I/O error).
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  /** Unknown command or option, missing argument. */
  usage: 2,
  /** Another process (a service, a REPL) holds the data directory. */
  locked: 3,
  /** The data directory, the market or the import file does not exist. */
  notFound: 4,
  /** A market file in the data directory cannot be parsed or validated. */
  corrupt: 5,
  /** The import document is not valid JSON or breaks the export format. */
  invalidInput: 6,
  /** `import` would overwrite an existing market and `--replace` was not given. */
  conflict: 7,
  /** Ctrl-C (SIGINT) ended the command; `import` ends so only once every write it started is done. */
  interrupted: 130,
  /** SIGTERM ended the command, as `interrupted` does. */
  terminated: 143,
} as const

/** One of the values of `ExitCode`. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** A failure the CLI reports as one message on stderr and a specific exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message)
    this.name = 'CliError'
  }
}
