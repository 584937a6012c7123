import { CorruptDataError, DataDirLockedError, MarketError } from '../index.js'
import { CliError, ExitCode, type ExitCodeValue } from './cli-error.js'
import type { Command } from './command.js'
import { exportCommand } from './commands/export.js'
import { importCommand } from './commands/import.js'
import { marketsCommand } from './commands/markets.js'
import { replCommand } from './commands/repl.js'
import { showCommand } from './commands/show.js'
import { studioCommand } from './commands/studio.js'
import type { Io } from './io.js'

// biome-ignore format: one command per line, so adding a command is one import and one line here
const commands: readonly Command[] = [
  marketsCommand,
  showCommand,
  exportCommand,
  importCommand,
  replCommand,
  studioCommand,
]

const overview = `Usage: market-system <command> [options]

Look at and move the markets of a data directory (--data DIR, default ./persist)
or of a PostgreSQL database (--database postgres://...).

Commands:
${commands.map((command) => `  ${command.name.padEnd(8)}  ${command.summary}`).join('\n')}
  help      Show the help of a command: market-system help show

Run \`market-system <command> --help\` for a command's options.

Exit codes: 0 ok, 1 other failure, 2 usage, 3 data directory locked, 4 not found,
5 corrupt market data (file or row), 6 invalid import document, 7 import would overwrite a market,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).`

/**
 * Runs one `market-system` invocation and resolves to its exit code. Every failure becomes one message
 * on stderr; nothing is thrown.
 *
 * @example
 * ```ts
 * process.exitCode = await run(['show', "Bob's list", '--data', './persist'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })
 * ```
 */
export async function run(argv: readonly string[], io: Io): Promise<ExitCodeValue> {
  const [name, ...args] = argv
  if (name === undefined || name === '--help' || name === '-h') {
    ;(name === undefined ? io.stderr : io.stdout).write(`${overview}\n`)
    return name === undefined ? ExitCode.usage : ExitCode.ok
  }
  if (name === 'help') return run(args.length > 0 ? [args[0] as string, '--help'] : ['--help'], io)
  const command = commands.find((candidate) => candidate.name === name)
  if (!command) {
    io.stderr.write(`market-system: unknown command \`${name}\`\n\n${overview}\n`)
    return ExitCode.usage
  }
  try {
    await command.run(args, io)
    return ExitCode.ok
  } catch (error) {
    const { message, exitCode } = describe(error)
    io.stderr.write(`market-system ${command.name}: ${message}\n`)
    return exitCode
  }
}

function describe(error: unknown): { message: string; exitCode: ExitCodeValue } {
  if (error instanceof CliError) return error
  if (error instanceof DataDirLockedError) {
    return {
      message: `${error.message}. Stop that process (a service, a REPL) or use another --data directory.`,
      exitCode: ExitCode.locked,
    }
  }
  if (error instanceof CorruptDataError) {
    return {
      message: `${error.message}\nIt is left untouched: restore it from a backup, or move it aside (a file out of the data directory, a row out of the table).`,
      exitCode: ExitCode.corrupt,
    }
  }
  if (error instanceof MarketError) {
    // A PersistenceError's message names the operation; the cause (ECONNREFUSED, EACCES) says what to fix.
    const cause =
      error.cause instanceof Error && !error.message.includes(error.cause.message) ? `: ${error.cause.message}` : ''
    return { message: `${error.name}: ${error.message}${cause}`, exitCode: ExitCode.failure }
  }
  // Not one of ours: keep the stack, it is the only clue.
  return {
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    exitCode: ExitCode.failure,
  }
}
