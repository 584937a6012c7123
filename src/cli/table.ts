/** Right-aligned columns hold numbers, so their digits line up. */
export type Align = 'left' | 'right'

/**
 * Renders rows as a plain-text table with a header, columns separated by two spaces.
 * Widths count UTF-16 code units, so very wide characters (CJK, emoji) may shift a column.
 *
 * @example
 * ```ts
 * formatTable(['name', 'quantity'], [['linguissa', '5']], ['left', 'right'])
 * ```
 */
export function formatTable(headers: string[], rows: string[][], align: Align[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  )
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0
        return align[column] === 'right' ? cell.padStart(width) : cell.padEnd(width)
      })
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}
