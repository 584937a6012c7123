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
])
