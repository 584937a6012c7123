// The `market-system` executable. The shebang is added by the build (tsup `banner`), so this file also runs under tsx.
import { run } from './run.js'

// `market-system export | head` closes the pipe early; that is the reader's choice, not a failure to report.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw error
})

process.exitCode = await run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
})
