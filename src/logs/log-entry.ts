/** Which output of the container a log line came from. */
export type LogStream = 'stdout' | 'stderr'

/** One line of a container's log, as `readLogs` yields it. */
export interface LogEntry {
  /** The output it was written to. */
  stream: LogStream
  /** When the logger read it (millisecond precision; the file keeps nanoseconds). */
  time: Date
  /**
   * The text, without its trailing newline. With `timestamps: true` it starts with the record's
   * RFC 3339 time (nanoseconds, as in the file) and a space, like `docker logs -t`.
   */
  line: string
  /**
   * True when the record did not end a line: a line longer than 16 KiB is cut into several records
   * (Docker's rule), and output that never got a newline is written as is when the logger drains.
   */
  partial: boolean
}

/** A json-file record as stored: `{"log":"…\n","stream":"stdout","time":"<RFC3339Nano>"}`. */
export interface JsonLogRecord {
  /** The bytes written, as text, with the newline if there was one. */
  log: string
  /** The stream. */
  stream: LogStream
  /** The time as written in the file. */
  timestamp: string
  /** The same, as a Date. */
  time: Date
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/

/** Parses an RFC 3339 time with any number of fractional digits (JS Date only reads milliseconds). */
export function parseRfc3339(value: string): Date | undefined {
  const m = RFC3339.exec(value)
  if (m === null) return undefined
  const ms = (m[2] ?? '').slice(0, 3).padEnd(3, '0')
  const t = Date.parse(`${m[1]}.${ms}${m[3]}`)
  return Number.isNaN(t) ? undefined : new Date(t)
}

/**
 * Parses one line of a json-file log. Returns undefined for anything that is not a record (a torn or
 * foreign line), so one bad line never hides the rest of the log.
 */
export function parseJsonLogLine(text: string): JsonLogRecord | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (value === null || typeof value !== 'object') return undefined
  const { log, stream, time } = value as Record<string, unknown>
  if (typeof time !== 'string' || (stream !== 'stdout' && stream !== 'stderr')) return undefined
  const date = parseRfc3339(time)
  if (date === undefined) return undefined
  return { log: typeof log === 'string' ? log : '', stream, timestamp: time, time: date }
}

/** Turns a stored record into what readers see. */
export function toLogEntry(record: JsonLogRecord, timestamps: boolean): LogEntry {
  const partial = !record.log.endsWith('\n')
  const text = partial ? record.log : record.log.slice(0, -1)
  return { stream: record.stream, time: record.time, line: timestamps ? `${record.timestamp} ${text}` : text, partial }
}
