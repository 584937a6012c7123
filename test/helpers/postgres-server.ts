// A throwaway PostgreSQL server for tests, the multi-instance example and the bench: a fresh cluster in the OS
// temp dir, on 127.0.0.1 and a free port, stopped and deleted by `destroy()` (and, as a last resort, when this
// process exits). PostgreSQL refuses to run as root, so as root every server command runs as the `postgres` user.
import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` */
  readonly url: string
  readonly port: number
  /** Stops the server; `immediate` is a crash as far as clients can tell (no goodbye to connections). */
  stop(mode?: 'immediate' | 'fast'): void
  /** Starts it again after `stop`, on the same port and data. */
  start(): void
  /** SIGSTOP (`freeze`) or SIGCONT (`thaw`) the postmaster and every backend: a server that stops answering. */
  freeze(): void
  thaw(): void
  /** Stops the server and deletes the cluster. Idempotent. */
  destroy(): void
}

const isRoot = () => process.getuid?.() === 0

/** The directory of `initdb` and `pg_ctl`: on PATH, from `pg_config --bindir`, or under /usr/lib/postgresql. */
export function findPostgresBinaries(): string | undefined {
  const hasTools = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && hasTools(dir)) return dir
  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
    if (hasTools(dir)) return dir
  } catch {}
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a))
  return versions.map((version) => join(root, version, 'bin')).find(hasTools)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/** Processes whose parent is `pid` (Linux /proc), so a freeze reaches every backend, not only the postmaster. */
function childrenOf(pid: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // Fields after the parenthesized command name: state, ppid, ...
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) children.push(Number(entry))
    } catch {}
  }
  return children
}

/**
 * Creates a cluster and starts it. `fsync: false` (the default here) keeps a throwaway server fast; it loses
 * nothing unless the machine itself crashes, which no test does.
 * @throws when no PostgreSQL binaries are found or the server does not start.
 */
export async function startPostgresServer(options: { fsync?: boolean } = {}): Promise<PostgresServer> {
  const bin = findPostgresBinaries()
  if (!bin) throw new Error('no PostgreSQL binaries (initdb, pg_ctl) on PATH, from pg_config or in /usr/lib/postgresql')
  const dir = mkdtempSync(join(tmpdir(), 'market-system-pg-'))
  const data = join(dir, 'data')
  const run = (tool: string, args: string[]) => {
    const [file, argv] = isRoot()
      ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]]
      : [join(bin, tool), args]
    return execFileSync(file as string, argv as string[], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    })
  }
  let destroyed = false
  let postmaster: number | undefined
  const readPid = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
  const onExit = () => destroy()
  const signalAll = (signal: NodeJS.Signals) => {
    if (postmaster === undefined) return
    for (const pid of [postmaster, ...childrenOf(postmaster)]) {
      try {
        process.kill(pid, signal)
      } catch (error) {
        // A backend that exited between listing and signalling is not an error.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
      }
    }
  }
  const destroy = () => {
    if (destroyed) return
    destroyed = true
    process.off('exit', onExit)
    try {
      signalAll('SIGCONT')
    } catch {}
    try {
      if (postmaster !== undefined) run('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w'])
    } catch {
      // pg_ctl failed (its binaries gone?): SIGQUIT is the postmaster's own immediate shutdown.
      try {
        if (postmaster !== undefined) process.kill(postmaster, 'SIGQUIT')
      } catch {}
    }
    postmaster = undefined
    // Retried: a backend still exiting may be removing its files while we do.
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
  }
  try {
    if (isRoot()) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
      chownSync(dir, uid, gid)
    }
    run('initdb', ['-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync', '-D', data])
    const port = await freePort()
    const settings = [
      '-c listen_addresses=127.0.0.1',
      `-p ${port}`,
      `-k ${dir}`,
      `-c fsync=${options.fsync === true ? 'on' : 'off'}`,
      '-c max_connections=200',
    ].join(' ')
    const start = () => {
      run('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', join(dir, 'server.log'), '-o', settings])
      postmaster = readPid()
    }
    start()
    process.on('exit', onExit)
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      stop: (mode = 'immediate') => {
        run('pg_ctl', ['stop', '-D', data, '-m', mode, '-w'])
        postmaster = undefined
      },
      start,
      freeze: () => signalAll('SIGSTOP'),
      thaw: () => signalAll('SIGCONT'),
      destroy,
    }
  } catch (error) {
    destroy()
    const stderr = (error as { stderr?: string }).stderr
    throw new Error(`Could not start a throwaway PostgreSQL server: ${stderr || String(error)}`, { cause: error })
  }
}
