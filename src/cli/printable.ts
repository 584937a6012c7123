/**
 * What a terminal or a line splitter acts on: C0 and C1 controls and DEL (line breaks, escape sequences),
 * U+2028 and U+2029 (line breaks to JavaScript, Python's `splitlines()` and Unicode), and the bidirectional
 * overrides and isolates, which reorder what is shown around them.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/
const UNSAFE_BEYOND_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/**
 * `text` as a JSON string in which every character of `UNSAFE` is escaped (`\n`, `\u001b`, `\u2028`), so it
 * prints on one line, changes nothing on the terminal, and `JSON.parse` gives `text` back.
 *
 * @example
 * ```ts
 * quoted('Anna\u2028Bob') // '"Anna\\u2028Bob"'
 * ```
 */
export function quoted(text: string): string {
  return JSON.stringify(text).replace(
    UNSAFE_BEYOND_JSON,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/**
 * `text` as it is when it is safe to print, otherwise `quoted(text)`. Text starting with `"` is quoted too,
 * so a printed value that starts with `"` is always a JSON string, never text that happens to look like one.
 *
 * @example
 * ```ts
 * printable('milk') // 'milk'
 * printable('milk\n\u001b[2J') // '"milk\\n\\u001b[2J"'
 * ```
 */
export function printable(text: string): string {
  return UNSAFE.test(text) || text.startsWith('"') ? quoted(text) : text
}
