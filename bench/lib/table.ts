/** Prints aligned plain-text tables: readable in a terminal and in a CI log, no dependency needed. */

export type Cell = string | number

function format(cell: Cell): string {
  if (typeof cell === 'string') return cell
  if (!Number.isFinite(cell)) return '-'
  return Math.abs(cell) >= 100 ? cell.toFixed(0) : cell.toFixed(2)
}

/** Prints `title`, then a header row and the rows; numbers are right-aligned, text left-aligned. */
export function printTable(title: string, headers: readonly string[], rows: readonly (readonly Cell[])[]): void {
  const text = rows.map((row) => row.map(format))
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => (row[i] ?? '').length)))
  const line = (cells: readonly string[], numeric: readonly boolean[]): string =>
    cells.map((c, i) => (numeric[i] === true ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()
  const numericCols = headers.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number'))
  console.log(`\n${title}`)
  console.log(line(headers, numericCols))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of text) console.log(line(row, numericCols))
}

/** A ratio for display, e.g. `1.84×`. */
export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '-'
}
