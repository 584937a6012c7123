import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, it, vi } from 'vitest'

/** Debian's chromium. Nothing here downloads a browser: playwright-core only drives this one. */
export const CHROMIUM = '/usr/bin/chromium'

const ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * `describe` for suites that need the browser. Without chromium they are skipped with the reason in their
 * title, except under `CI=true`, where a missing browser is a failure: CI must not pass by testing nothing.
 */
export function describeInBrowser(title: string, body: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(title, body)
  } else if (process.env.CI === 'true') {
    describe(title, () => {
      it(`finds chromium at ${CHROMIUM} (CI requires it: apt-get install -y chromium)`, () => {
        throw new Error(`${CHROMIUM} is missing`)
      })
    })
  } else {
    describe.skip(`${title} (skipped: no ${CHROMIUM}; apt-get install -y chromium to run it)`, body)
  }
}

/**
 * One headless chromium for the file, on a fresh temp profile, closed (and the profile removed) after it.
 * `page()` opens a tab that is closed after its test.
 */
export function useBrowser(): { page: () => Promise<Page> } {
  let context: BrowserContext | undefined
  let profile: string | undefined
  const pages: Page[] = []
  beforeAll(async () => {
    // expect.poll waits for the page; its 1 s default is too short for chromium on a loaded shared machine.
    vi.setConfig({ expect: { poll: { timeout: 15_000, interval: 50 } } })
    profile = await mkdtemp(join(tmpdir(), 'market-system-chromium-'))
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS })
  })
  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.close()))
  })
  afterAll(async () => {
    await context?.close()
    if (profile) await rm(profile, { recursive: true, force: true })
  })
  return {
    page: async () => {
      if (!context) throw new Error('the browser did not start')
      const page = await context.newPage()
      pages.push(page)
      return page
    },
  }
}
