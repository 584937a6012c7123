import { createRequire } from 'node:module'

/** The `pg` module (node-postgres), as `require('pg')` returns it. */
export type Pg = typeof import('pg')

/**
 * @internal
 * Loads `pg` synchronously, so that importing `market-system/postgres` without it fails at once, with a message
 * that says what to install, instead of Node's bare "Cannot find package". `pg` is CommonJS, so `require` loads it
 * from both builds; `load` is a seam for the test that simulates a missing package.
 * @throws {Error} naming `npm install pg` when `pg` cannot be resolved.
 */
export function loadPg(load: (id: string) => unknown = createRequire(import.meta.url)): Pg {
  try {
    return load('pg') as Pg
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new Error(
        'market-system/postgres needs the `pg` package (node-postgres), which is not installed: npm install pg',
        { cause: error },
      )
    }
    throw error
  }
}
