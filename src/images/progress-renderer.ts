import type { Writable } from 'node:stream'
import { isIndex, isManifest } from '../image-spec/media-types.js'
import type { PullProgressEvent } from './progress.js'

/** Options of {@link createProgressRenderer}. */
export interface ProgressRendererOptions {
  /** Redraw lines in place (ANSI). Default: whether `out` is a TTY. */
  tty?: boolean
  /** Width of the progress bar. Default 40. */
  barWidth?: number
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number
}

/** Draws pull progress; pass `onProgress` to `client.pull` and call `finish()` afterwards. */
export interface ProgressRenderer {
  /** The listener to pass as `onProgress`. */
  readonly onProgress: (event: PullProgressEvent) => void
  /** Draws the final state (and the totals line). */
  finish(): void
}

interface Row {
  label: string
  status: string
  current: number
  total: number
}

/**
 * Renders pull progress the way nerdctl does: one line per reference and blob
 * (`index-sha256:…`, `manifest-…`, `config-…`, `layer-…`) with its status and a bar, and a last line with
 * the elapsed time, the bytes so far and the rate. In a terminal the lines are redrawn in place (at most
 * ten times a second); otherwise one plain line is printed per status change, never per chunk.
 */
export function createProgressRenderer(out: Writable & { isTTY?: boolean }, options: ProgressRendererOptions = {}): ProgressRenderer {
  const tty = options.tty ?? out.isTTY === true
  const width = options.barWidth ?? 40
  const now = options.now ?? Date.now
  const started = now()
  const rows = new Map<string, Row>()
  /** Each reference's resolved root digest: its blob's 'done' ends the reference's line. */
  const roots = new Map<string, string>()
  let drawnLines = 0
  let lastDraw = 0

  // The last line in both modes: the docs promise elapsed time, bytes so far and the rate.
  const totalsLine = (): string => {
    const elapsedMs = now() - started
    const bytes = [...rows.values()].reduce((sum, r) => sum + (r.label.startsWith('layer-') || r.label.startsWith('config-') ? r.current : 0), 0)
    const rate = elapsedMs > 0 ? bytes / (elapsedMs / 1000) : 0
    return `elapsed: ${(elapsedMs / 1000).toFixed(1)} s${' '.repeat(4)}total: ${formatBytes(bytes)} (${formatBytes(rate)}/s)`
  }

  const draw = (): void => {
    const labelWidth = Math.max(...[...rows.values()].map((r) => r.label.length), 10) + 1
    const lines = [...rows.values()].map((r) => {
      const label = `${r.label}:`.padEnd(labelWidth)
      const status = r.status.padEnd(12)
      const fraction = r.total > 0 ? Math.min(1, r.current / r.total) : r.status === 'done' || r.status === 'exists' || r.status === 'resolved' ? 1 : 0
      const filled = Math.round(fraction * width)
      const sizes = r.total > 0 && r.status === 'downloading' ? ` ${formatBytes(r.current)}/${formatBytes(r.total)}` : ''
      return `${label} ${status} |${'+'.repeat(filled)}${'-'.repeat(width - filled)}|${sizes}`
    })
    lines.push(totalsLine())
    if (drawnLines > 0) out.write(`\x1b[${drawnLines}A`)
    out.write(lines.map((l) => `\x1b[2K${l}\n`).join(''))
    drawnLines = lines.length
    lastDraw = now()
  }

  /** Sets one row's state; true when its status changed (and, without a TTY, prints the new status). */
  const update = (key: string, label: string, event: PullProgressEvent): boolean => {
    const row = rows.get(key) ?? { label, status: '', current: 0, total: event.total ?? 0 }
    const changed = row.status !== event.status
    row.status = event.status
    if (event.total !== undefined) row.total = event.total
    if (event.current !== undefined) row.current = event.current
    if (event.status === 'downloaded' || event.status === 'exists' || event.status === 'done') row.current = row.total
    rows.set(key, row)
    if (!tty && changed) out.write(`${row.label}: ${row.status}${row.total > 0 ? ` (${formatBytes(row.total)})` : ''}\n`)
    return changed
  }

  const onProgress = (event: PullProgressEvent): void => {
    let changed = false
    if (event.digest !== undefined) changed = update(event.digest, `${kindOf(event)}-${event.digest}`, event)
    // The reference's own line follows the pull as a whole: 'resolved' and the root's 'done' arrive with the
    // root's digest (its blob line), and left alone the reference line would stay at 'resolving' after the pull
    // ended. A manifest inside an index is 'done' before its index is: only the root's 'done' ends the reference.
    // Sizes belong to the blob lines, so the reference line carries the status only.
    if (event.status === 'resolved' && event.digest !== undefined) roots.set(event.ref, event.digest)
    const forReference = event.digest === undefined || event.status === 'resolved' || (event.status === 'done' && roots.get(event.ref) === event.digest)
    if (forReference && (event.digest === undefined || rows.has(event.ref))) {
      changed = update(event.ref, event.ref, { status: event.status, ref: event.ref }) || changed
    }
    if (tty && (now() - lastDraw >= 100 || changed)) draw()
  }

  return {
    onProgress,
    finish: () => {
      if (tty) draw()
      else out.write(`${totalsLine()}\n`)
    },
  }
}

function kindOf(event: PullProgressEvent): string {
  const type = event.mediaType ?? ''
  if (isIndex(type)) return 'index'
  if (isManifest(type)) return 'manifest'
  if (type.includes('config')) return 'config'
  return 'layer'
}

/** `1.5 MiB`, `300.0 KiB`, `12 B`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`
}
