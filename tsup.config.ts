import { defineConfig, type Options } from 'tsup'

const common: Options = {
  // `market-system/postgres` is its own entry so that the main one never loads pg (external: a peer dependency).
  entry: ['src/index.ts', 'src/postgres.ts', 'src/studio.ts'],
  target: 'node20',
  sourcemap: true,
  dts: true,
}

/**
 * The studio page's script and stylesheet, for browsers: `dist/studio-assets/studio.{js,css}`, beside the modules
 * that serve them (src/studio/assets.ts finds them from its own URL). Exported for the browser tests, which build
 * the same bundle into a temp dir.
 */
export const studioAssets: Options = {
  entry: { 'studio-assets/studio': 'src/studio/client/main.ts' },
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
}

export default defineConfig([
  { ...common, format: 'esm', clean: true },
  // nanoid 5 is ESM-only; require(esm) is not reliable on every Node >= 20.19 setup, so the CommonJS build carries its own copy.
  // Split like the ESM build, so both entries share one copy of the error classes: `instanceof` holds across them.
  // `shims` gives the postgres entry's `import.meta.url` (it require()s pg) a value in CommonJS.
  // `keepNames`: CommonJS splitting rewrites classes as anonymous expressions, so without it every error's
  // `name` (set from `new.target.name`) reads `_class` in the require() build.
  { ...common, format: 'cjs', noExternal: ['nanoid'], splitting: true, shims: true, keepNames: true },
  // The `market-system` executable: ESM only (node runs it directly), no declarations, and the shebang on this file alone.
  {
    entry: { cli: 'src/cli/main.ts' },
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    banner: { js: '#!/usr/bin/env node' },
  },
  studioAssets,
])
