import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

/** @internal The browser files the build writes beside the package's modules (see tsup.config.ts). */
export const ASSET_FILES = {
  'studio.js': 'text/javascript; charset=utf-8',
  'studio.css': 'text/css; charset=utf-8',
} as const

/** @internal */
export type AssetName = keyof typeof ASSET_FILES

/** @internal Reads an asset by name; read once and kept, since they never change while the process runs. */
export type AssetSource = (name: AssetName) => Promise<Buffer>

/**
 * @internal
 * `dist/studio-assets/`, found from this module's own URL, so it works wherever the package is installed
 * and the page never loads anything from the network.
 */
export function packagedAssets(dir: URL | string = new URL('./studio-assets/', import.meta.url)): AssetSource {
  const base = typeof dir === 'string' ? dir : fileURLToPath(dir)
  const cache = new Map<AssetName, Promise<Buffer>>()
  return (name) => {
    let file = cache.get(name)
    if (!file) {
      file = readFile(`${base.replace(/\/?$/, '/')}${name}`)
      // A failed read (a missing build) is retried next time rather than remembered.
      file.catch(() => cache.delete(name))
      cache.set(name, file)
    }
    return file
  }
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)

/**
 * @internal
 * The page: a shell the script fills in. Settings travel as data attributes, escaped, since inline
 * script is forbidden by the Content-Security-Policy.
 */
export function pageHtml(options: { title: string; readOnly: boolean }, built = true): string {
  const title = escapeHtml(options.title)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/studio.css">
<script type="module" src="assets/studio.js"></script>
</head>
<body data-read-only="${options.readOnly}" data-title="${title}">
<header><a class="home" href="./">${title}</a><span id="live" role="status" aria-live="polite">Connecting…</span></header>
<main id="main"><p>${built ? 'Loading…' : 'The studio’s script is missing from this installation: build the package (npm run build).'}</p></main>
<noscript>The studio needs JavaScript.</noscript>
</body>
</html>
`
}
