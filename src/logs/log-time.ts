import { InvalidArgumentError } from '../grpc/errors.js'

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 }
const DURATION = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g
const UNIX = /^(\d+)(?:\.(\d{1,9}))?$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/

/** A point in time for `since`/`until`: a Date, unix seconds, or a Docker-style string. */
export type LogTime = Date | number | string

/**
 * Resolves a `since`/`until` value the way `docker logs` does:
 * - a Go duration (`10m`, `1h30m`, `1.5h`, `500ms`): that long before `now`;
 * - unix seconds, optionally with a fraction (`1700000000`, `1700000000.5`), or a number;
 * - RFC 3339 (`2024-05-01T10:00:00Z`, `…+02:00`, with up to 9 fractional digits), or without a zone
 *   (`2024-05-01T10:00`, `2024-05-01`), which is local time.
 * @throws InvalidArgumentError naming the option and the accepted forms.
 */
export function parseLogTime(value: LogTime, option: string, now: Date = new Date()): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new InvalidArgumentError(`${option} is an invalid Date`)
    return value
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(`${option} must be a finite number of unix seconds`)
    return new Date(value * 1000)
  }
  const text = typeof value === 'string' ? value.trim() : ''
  const parsed = text === '' ? undefined : parseText(text, now)
  if (parsed === undefined) {
    throw new InvalidArgumentError(
      `${option} ${JSON.stringify(value)} is not a time: use a Date, unix seconds, a duration like '10m' or '1h30m', or RFC 3339 like '2024-05-01T10:00:00Z'`,
    )
  }
  return parsed
}

function parseText(text: string, now: Date): Date | undefined {
  if (DURATION.test(text)) {
    let ms = 0
    for (const [, amount, unit] of text.matchAll(DURATION_PART)) ms += Number(amount) * (DURATION_UNITS[unit ?? ''] ?? 0)
    return new Date(now.getTime() - (text.startsWith('-') ? -ms : ms))
  }
  const unix = UNIX.exec(text)
  if (unix !== null) return new Date(Number(unix[1]) * 1000 + Math.floor(Number(`0.${unix[2] ?? '0'}`) * 1000))
  const d = DATE.exec(text)
  if (d === null) return undefined
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(d[i] ?? '0')) as [number, number, number, number, number, number]
  const ms = Math.floor(Number(`0.${d[7] ?? '0'}`) * 1000)
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined
  const zone = d[8]
  if (zone === undefined) return new Date(year, month - 1, day, hour, minute, second, ms)
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms)
  if (zone === 'Z' || zone === 'z') return new Date(utc)
  const sign = zone.startsWith('-') ? -1 : 1
  const offset = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)))
  return new Date(utc - offset * 60_000)
}
