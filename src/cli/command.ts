import type { Io } from './io.js'

/** One `market-system` subcommand. */
export interface Command {
  name: string
  /** One line for the overview. */
  summary: string
  /** The full text `market-system <name> --help` prints. */
  help: string
  /** Runs with the arguments after the command name; throws `CliError` or a library error to fail. */
  run(args: string[], io: Io): Promise<void>
}
