import { defineConfig, type Options } from 'tsup'

const common: Options = {
  entry: ['src/index.ts'],
  target: 'node20',
  sourcemap: true,
  dts: true,
}

export default defineConfig([
  { ...common, format: 'esm', clean: true },
  // nanoid 5 is ESM-only; require(esm) is not reliable on every Node >= 20.19 setup, so the CommonJS build carries its own copy.
  { ...common, format: 'cjs', noExternal: ['nanoid'] },
  // The `market-system` executable: ESM only (node runs it directly), no declarations, and the shebang on this file alone.
  {
    entry: { cli: 'src/cli/main.ts' },
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    banner: { js: '#!/usr/bin/env node' },
  },
])
