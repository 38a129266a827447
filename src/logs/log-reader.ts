import { dirname } from 'node:path'
import { CanceledError, InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import { ChangeWaiter } from './change-waiter.js'
import { configuredLogPath } from './log-config.js'
import { nextStep, openCursor, readLines, type LogCursor } from './log-cursor.js'
import { parseJsonLogLine, toLogEntry, type JsonLogRecord, type LogEntry } from './log-entry.js'
import { listLogFilesStable, type LogFileInfo } from './log-files.js'
import { tailRecords } from './log-tail.js'
import { parseLogTime, type LogTime } from './log-time.js'

/** A container's log located through the data store, like nerdctl finds it. */
export interface LogLocation {
  /** The data store (see `dataStorePath`). */
  dataStore: string
  /** The container's namespace. */
  namespace: string
  /** The container's id. */
  id: string
}

/** What to read from a log, and how. */
export interface ReadLogsOptions {
  /** Keep reading as the log grows (through rotations) until `followUntil` settles or `signal` aborts. Default false. */
  follow?: boolean
  /**
   * Start with only the last N lines (of those the stream and time filters keep); `'all'` or unset:
   * the whole log. Read backwards, so a long log costs only its end.
   */
  tail?: number | 'all'
  /** Only lines at or after this time: a Date, unix seconds, a duration before now (`'10m'`), or RFC 3339. */
  since?: LogTime
  /** Only lines at or before this time (same forms); a follow ends once it has passed. */
  until?: LogTime
  /** Prefix each `line` with its RFC 3339 time and a space, like `docker logs -t`. Default false. */
  timestamps?: boolean
  /** Include stdout. Default true. */
  stdout?: boolean
  /** Include stderr. Default true. */
  stderr?: boolean
  /** Stops reading; the iteration then throws a `CanceledError` whose cause is `signal.reason`. */
  signal?: AbortSignal
  /**
   * With `follow`, when this settles the reader reads what the log holds by then (through any rotation)
   * and ends; if it rejects, the iteration then throws its error. `containerLogs` passes "the task has
   * exited and the logger has drained".
   */
  followUntil?: PromiseLike<unknown>
  /** How often a follow rechecks the log besides the file watch. Default 500 ms. */
  pollIntervalMs?: number
}

interface Resolved {
  accept: (r: JsonLogRecord) => boolean
  until: Date | undefined
  tail: number | undefined
  timestamps: boolean
  pollIntervalMs: number
}

/**
 * Reads a json-file log (Docker's and nerdctl's format, as written by the shipped logger): the rotated
 * files oldest first, then the live one, one {@link LogEntry} per record. With `follow` it keeps reading
 * as the log grows, following rotation by inode, until `followUntil` settles, `until` passes, the
 * signal aborts or the consumer stops iterating. Records that are not valid json-file lines are skipped.
 * @throws NotFoundError when the log does not exist.
 * @throws InvalidArgumentError for bad options (a bad time, a negative tail, no stream selected).
 */
export async function* readLogs(source: string | LogLocation, options: ReadLogsOptions = {}): AsyncGenerator<LogEntry> {
  const opts = resolveOptions(options)
  const { signal } = options
  throwIfAborted(signal)
  const logPath = typeof source === 'string' ? source : await configuredLogPath(source.dataStore, source.namespace, source.id)
  const files = await listLogFilesStable(logPath)
  if (files.length === 0) throw new NotFoundError(`no json-file log at ${logPath}`)

  let cursor: LogCursor | undefined
  let handedOver = false
  try {
    if (opts.tail !== undefined) {
      const tailed = await tailRecords(files, opts.tail, opts.accept)
      cursor = tailed.cursor
      for (const record of tailed.records) yield toLogEntry(record, opts.timestamps)
    } else {
      cursor = await openCursor(files[0] as LogFileInfo)
    }
    handedOver = true
  } finally {
    // Closed here only if the consumer stopped (or an error came) before readForward took the cursor.
    if (!handedOver) await cursor?.handle.close().catch(() => undefined)
  }
  yield* readForward(logPath, cursor, opts, options)
}

/** Reads from the cursor on (it is this function's to close), following the log when asked. */
async function* readForward(logPath: string, start: LogCursor | undefined, opts: Resolved, options: ReadLogsOptions): AsyncGenerator<LogEntry> {
  const { signal } = options
  const follow = options.follow === true
  let stopping = !follow
  let stopError: { error: unknown } | undefined
  const waiter = follow ? new ChangeWaiter(dirname(logPath), opts.pollIntervalMs) : undefined
  options.followUntil?.then(
    () => {
      stopping = true
      waiter?.notify()
    },
    (error: unknown) => {
      stopError = { error }
      stopping = true
      waiter?.notify()
    },
  )
  let cursor = start
  let races = 0
  const entries = async function* (c: LogCursor): AsyncGenerator<LogEntry> {
    for await (const line of readLines(c)) {
      const record = parseJsonLogLine(line)
      if (record === undefined) continue
      if (follow && opts.until !== undefined && record.time > opts.until) stopping = true
      if (opts.accept(record)) yield toLogEntry(record, opts.timestamps)
    }
  }
  try {
    // Each pass reads to the end of the current file, then moves to the next file or waits for a
    // change. A stop requested before a pass began ends the loop after that pass, so the last pass
    // starts after the stop (after the logger drained) and reads everything written before it.
    for (;;) {
      throwIfAborted(signal)
      const lastPass = stopping
      if (cursor === undefined) {
        const first = (await listLogFilesStable(logPath))[0]
        cursor = first === undefined ? undefined : await openCursor(first)
      }
      if (cursor !== undefined) {
        yield* entries(cursor)
        const step = await nextStep(logPath, cursor)
        if (step.kind === 'truncated') {
          cursor.offset = 0
          cursor.pending = Buffer.alloc(0)
          continue
        }
        if (step.kind === 'next') {
          // The file was rotated, so nothing more is written to it: read what landed since the pass
          // above, then switch. A torn record at its end (a crash mid-write) goes with the old cursor.
          yield* entries(cursor)
          const next = await openCursor(step.file)
          if (next !== undefined) {
            await cursor.handle.close()
            cursor = next
            races = 0
            continue
          }
          // Raced with another rotation: keep the old cursor and decide again, at once a few times,
          // then after waiting for the next change (so a file that keeps vanishing cannot spin the loop).
          if (++races < 5) continue
        }
      }
      if (lastPass) break
      if (opts.until !== undefined && Date.now() > opts.until.getTime()) stopping = true
      if (!stopping) await waiter?.wait(signal)
    }
  } finally {
    waiter?.close()
    await cursor?.handle.close().catch(() => undefined)
  }
  if (stopError !== undefined) throw stopError.error
}

function resolveOptions(options: ReadLogsOptions): Resolved {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object')
  const now = new Date()
  const since = options.since === undefined ? undefined : parseLogTime(options.since, 'since', now)
  const until = options.until === undefined ? undefined : parseLogTime(options.until, 'until', now)
  const stdout = options.stdout ?? true
  const stderr = options.stderr ?? true
  if (!stdout && !stderr) throw new InvalidArgumentError('stdout and stderr are both false: select at least one stream')
  let tail: number | undefined
  if (options.tail !== undefined && options.tail !== 'all') {
    if (!Number.isSafeInteger(options.tail) || options.tail < 0) {
      throw new InvalidArgumentError(`tail ${JSON.stringify(options.tail)} must be a whole number ≥ 0 or 'all'`)
    }
    tail = options.tail
  }
  const pollIntervalMs = options.pollIntervalMs ?? 500
  if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 10) throw new InvalidArgumentError('pollIntervalMs must be at least 10')
  return {
    accept: (r) => (r.stream === 'stdout' ? stdout : stderr) && (since === undefined || r.time >= since) && (until === undefined || r.time <= until),
    until,
    tail,
    timestamps: options.timestamps === true,
    pollIntervalMs,
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new CanceledError('reading the log was canceled', { cause: signal.reason })
}
