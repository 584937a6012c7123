import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'

/** A fresh directory under the OS temp dir, removed after the test. */
export function useTempDirs(): () => Promise<string> {
  const dirs: string[] = []
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  })
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), 'market-system-test-'))
    dirs.push(dir)
    return dir
  }
}

export const sample = { name: 'linguissa', quantity: 5, expirationDate: '2023-08-08', price: 23.45 }
