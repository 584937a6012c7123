import { type ParseArgsConfig, parseArgs } from 'node:util'
import { CliError, ExitCode } from './cli-error.js'

type Options = NonNullable<ParseArgsConfig['options']>

/**
 * The options every command accepts. `--data` has no default here: `storageOf` applies `./persist`
 * only when `--database` is absent too, so giving both is caught as the usage error it is.
 */
export const commonOptions = {
  data: { type: 'string', short: 'd' },
  database: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options

/**
 * Parses one command's arguments strictly. A parse error (unknown option, missing value) becomes a usage
 * error that points at the command's help, so a typo never runs a command with a default in its place.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseCommandArgs('show', argv, { ...commonOptions, json: { type: 'boolean' } })
 * ```
 */
export function parseCommandArgs<O extends Options>(command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (error) {
    throw usageError(command, (error as Error).message)
  }
}

/** A usage error (exit 2) whose message ends by pointing at the command's help. */
export function usageError(command: string, message: string): CliError {
  return new CliError(`${message}\nRun \`market-system ${command} --help\` for usage.`, ExitCode.usage)
}

/** Throws a usage error unless exactly `count` positionals were given. */
export function expectPositionals(command: string, positionals: string[], names: string[]): void {
  if (positionals.length === names.length) return
  const expected = names.map((name) => name.toUpperCase()).join(' ')
  const got = positionals.length === 0 ? 'none' : positionals.map((value) => JSON.stringify(value)).join(' ')
  throw usageError(command, `\`market-system ${command}\` expects ${expected || 'no arguments'}, got ${got}.`)
}
