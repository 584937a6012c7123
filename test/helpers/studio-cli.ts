import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { useChildCleanup } from './child.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

export /** POSTs `body` to `url` as the studio's own page would. */
function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<number> {
  const { origin } = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { origin, 'x-market-studio': '1', 'content-type': 'application/json', ...headers },
      },
      (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      },
    )
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

/** Starts `market-system studio` children from source; every one still running is killed after its test. */
export function useStudioCli() {
  const children = useChildCleanup()
  return async (...args: string[]) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'studio', '--port', '0', ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.push(child)
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk
    })
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk
        const match = /http:\/\/\S+\//.exec(stdout)
        if (match) resolve(match[0])
      })
      void exited.then(() => reject(new Error(`studio exited early: ${stderr}`)))
    })
    return { child, url, exited, output: () => stdout, errors: () => stderr }
  }
}
