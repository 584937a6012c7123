import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LOCK_FILE } from '../src/file-database/dir-lock.js'
import { asPid1, canUnshare, fixtureCommand, useLockChildren } from './helpers/lock-child.js'
import { useTempDirs } from './helpers/temp-dir.js'

const tempDir = useTempDirs()
const run = useLockChildren()

// Where `unshare` cannot run (no root, no user namespaces) the test is skipped, and dir-lock.test.ts
// covers the same rule with a lock file naming this process's pid and another start time.
describe.runIf(canUnshare)('a restarted container whose entrypoint is PID 1', () => {
  it('starts on the directory the previous PID 1 held when it was killed with SIGKILL', async () => {
    const dir = await tempDir()
    const first = run(['unshare', ...asPid1, ...fixtureCommand('hold', dir)])
    await first.ready
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: 1 })
    first.child.kill('SIGKILL')
    await first.exited
    const restarted = run(['unshare', ...asPid1, ...fixtureCommand('check', dir)])
    const code = await restarted.exited
    expect(restarted.output()).not.toContain('DataDirLockedError')
    expect(code).toBe(0)
  })
})
