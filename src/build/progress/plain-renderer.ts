import { TextDecoder } from 'node:util'
import { isCanceledMessage, type BuildLog, type BuildLogStream, type BuildProgressEvent, type BuildVertex, type BuildVertexStatus, type BuildWarning } from './build-progress.js'

/** What the renderer remembers of one step. */
interface Step {
  /** `#N`: numbered in the order steps first appear, as buildctl does. */
  readonly index: number
  vertex: BuildVertex
  /** Whether its `#N <name>` header was ever printed. */
  shown: boolean
  /** The output stopped in the middle of one of its log lines. */
  midLine: boolean
  /** The time printed before its log line in progress, to print again if the line resumes in a new block. */
  lineTime: string | undefined
  /** The completion already printed (its time, or NaN for a failure without one), so it is printed once. */
  finished: number | undefined
  /** Each counter's state when last seen, to print only the ones that changed. */
  readonly seen: Map<string, string>
  /** Each counter's state when last printed, for the throttle. */
  readonly printed: Map<string, { current: number; at: number | undefined }>
  /** Streaming decoders: a chunk may end inside a UTF-8 sequence. */
  readonly decoders: Map<BuildLogStream, TextDecoder>
}

// buildctl prints an unfinished counter again only after 5% more progress or 5 s (progressui/printer.go).
const MIN_PROGRESS_DELTA = 0.05
const MIN_TIME_DELTA_MS = 5000

/**
 * A renderer in the format of `buildctl build --progress=plain` (and `docker buildx build --progress=plain`):
 *
 * ```text
 * #1 [internal] load build definition from Dockerfile
 * #1 transferring dockerfile: 72B done
 * #1 DONE 0.0s
 *
 * #4 [2/3] RUN echo hello
 * #4 0.215 hello
 * #4 DONE 0.3s
 * ```
 *
 * Steps are numbered in the order they first appear; a block starts with `#N <name>` whenever the output
 * switches to another step (`#N ...` closes a block whose step is still running); counters print as
 * `#N <id> <current> / <total> <seconds>s done` with decimal sizes (`1.05MB`), log lines as
 * `#N <seconds since the step started> <line>`, and a step ends with `#N DONE <seconds>s`, `#N CACHED`,
 * `#N ERROR: <message>` or `#N CANCELED`. Every time printed comes from the daemon's timestamps, so the
 * output depends on the events only. Feed it the events of a `BuildProgressTracker` (a build's
 * `onProgress`).
 *
 * @param write receives the text, whole lines except while a step is in the middle of a line.
 * @returns the listener to pass as `onProgress`.
 */
export function createPlainRenderer(write: (text: string) => void): (event: BuildProgressEvent) => void {
  const steps = new Map<string, Step>()
  let current: string | undefined
  let first = true

  const stepOf = (digest: string, vertex?: BuildVertex): Step => {
    let step = steps.get(digest)
    if (step === undefined) {
      step = {
        index: steps.size + 1,
        vertex: vertex ?? { digest, name: '', inputs: [], cached: false, statuses: [] },
        shown: false,
        midLine: false,
        lineTime: undefined,
        finished: undefined,
        seen: new Map(),
        printed: new Map(),
        decoders: new Map(),
      }
      steps.set(digest, step)
    }
    return step
  }

  /** Makes `step` the one being printed: closes the previous block and prints the header. */
  const enter = (step: Step): void => {
    const digest = step.vertex.digest
    if (current === digest) return
    let text = ''
    if (current !== undefined) {
      const previous = steps.get(current) as Step
      if (previous.midLine) text += '\n'
      previous.midLine = false
      text += `#${previous.index} ...\n`
    }
    if (!first) text += '\n'
    first = false
    text += `#${step.index} ${step.vertex.name}\n`
    write(text)
    step.shown = true
    current = digest
  }

  const onVertex = (vertex: BuildVertex): void => {
    const step = stepOf(vertex.digest, vertex)
    step.vertex = vertex
    const lines = statusLines(step)
    const finished = isFinished(vertex) ? (vertex.completed?.getTime() ?? NaN) : undefined
    const finishing = finished !== undefined && !Object.is(finished, step.finished)
    const starting = !step.shown && vertex.started !== undefined
    if (lines.length === 0 && !finishing && !starting) return
    enter(step)
    let text = lines.map((line) => `${line}\n`).join('')
    if (finishing) {
      if (step.midLine) text += '\n'
      step.midLine = false
      step.lineTime = undefined
      step.finished = finished
      text += `${completionLine(step.index, vertex)}\n`
      current = undefined
    }
    if (text !== '') write(text)
  }

  const onLog = (log: BuildLog): void => {
    const step = stepOf(log.vertex)
    let decoder = step.decoders.get(log.stream)
    if (decoder === undefined) {
      decoder = new TextDecoder()
      step.decoders.set(log.stream, decoder)
    }
    const pieces = decoder.decode(log.data, { stream: true }).split('\n')
    // A trailing '' means the chunk ended its last line; a lone '' means nothing decodable arrived yet.
    const complete = pieces[pieces.length - 1] === ''
    if (complete) pieces.pop()
    if (pieces.length === 0 && !complete) return
    enter(step)
    const time = logTime(step.vertex, log)
    let text = ''
    pieces.forEach((piece, i) => {
      if (i > 0 || step.lineTime === undefined) step.lineTime = time
      // A line resumed right where it stopped continues as is; resumed in a new block it gets its prefix again.
      text += i === 0 && step.midLine ? piece : `#${step.index} ${step.lineTime} ${piece}`
      if (i < pieces.length - 1 || complete) text += '\n'
    })
    step.midLine = !complete
    if (complete) step.lineTime = undefined
    write(text)
  }

  const onWarning = (warning: BuildWarning): void => {
    const step = stepOf(warning.vertex)
    enter(step)
    const text = step.midLine ? '\n' : ''
    step.midLine = false
    write(`${text}#${step.index} WARN: ${warning.short}\n`)
  }

  return (event) => {
    switch (event.type) {
      case 'vertex':
        onVertex(event.vertex)
        break
      case 'log':
        onLog(event.log)
        break
      case 'warning':
        onWarning(event.warning)
        break
    }
  }
}

/** The lines of the step's counters that changed since the last event, throttled as buildctl does. */
function statusLines(step: Step): string[] {
  const lines: string[] = []
  for (const status of step.vertex.statuses) {
    // buildctl lists a counter once it has started.
    if (status.started === undefined) continue
    const state = `${status.current}/${status.total}/${status.timestamp?.getTime()}/${status.completed?.getTime()}`
    if (step.seen.get(status.id) === state) continue
    step.seen.set(status.id, state)
    const at = status.timestamp?.getTime()
    const last = step.printed.get(status.id)
    if (last !== undefined && status.completed === undefined) {
      const progress = status.total > 0 ? (status.current - last.current) / status.total : 0
      const elapsed = at === undefined || last.at === undefined ? 0 : at - last.at
      if (progress < MIN_PROGRESS_DELTA && elapsed < MIN_TIME_DELTA_MS) continue
    }
    step.printed.set(status.id, { current: status.current, at })
    lines.push(`#${step.index} ${status.id}${statusSizes(status)}${statusTime(status)}`)
  }
  return lines
}

function statusSizes(status: BuildVertexStatus): string {
  if (status.total !== 0) return ` ${formatBuildBytes(status.current)} / ${formatBuildBytes(status.total)}`
  if (status.current !== 0) return ` ${formatBuildBytes(status.current)}`
  return ''
}

function statusTime(status: BuildVertexStatus): string {
  let text = ''
  const end = status.completed ?? status.timestamp
  if (status.started !== undefined && end !== undefined) {
    const seconds = durationSeconds(end.getTime() - status.started.getTime())
    if (seconds > 0.01) text = ` ${formatFixed(seconds, 1)}s`
  }
  return status.completed === undefined ? text : `${text} done`
}

function completionLine(index: number, vertex: BuildVertex): string {
  if (vertex.error !== undefined) return isCanceledMessage(vertex.error) ? `#${index} CANCELED` : `#${index} ERROR: ${vertex.error}`
  if (vertex.cached) return `#${index} CACHED`
  if (vertex.started === undefined || vertex.completed === undefined) return `#${index} DONE`
  return `#${index} DONE ${formatFixed(durationSeconds(vertex.completed.getTime() - vertex.started.getTime()), 1)}s`
}

/** Seconds since the step started, with buildctl's precision: 3 decimals below 10 s, 2 below 100 s, else 1. */
function logTime(vertex: BuildVertex, log: BuildLog): string {
  const ms = vertex.started === undefined || log.timestamp === undefined ? 0 : log.timestamp.getTime() - vertex.started.getTime()
  const seconds = durationSeconds(ms)
  return formatFixed(seconds, seconds < 10 ? 3 : seconds < 100 ? 2 : 1)
}

function isFinished(vertex: BuildVertex): boolean {
  return vertex.completed !== undefined || vertex.error !== undefined
}

/** Milliseconds as seconds, computed as Go's `Duration.Seconds()` is (whole seconds plus the fraction). */
function durationSeconds(ms: number): number {
  return Math.trunc(ms / 1000) + (ms % 1000) / 1000
}

/**
 * Go's `%.Nf`: the exact value of `x` rounded to `digits` decimals, ties to even. `toFixed` agrees except
 * on exact ties, which it rounds up (`0.25` is `0.2` in Go, `0.3` in JavaScript).
 * @internal
 */
export function formatFixed(x: number, digits: number): string {
  if (x < 0) return `-${formatFixed(-x, digits)}`
  // x·10^d ends in exactly .5 only when x·2^(d+1) is an odd integer (x is a binary fraction).
  const halves = x * 2 ** (digits + 1)
  if (!Number.isInteger(halves) || halves % 2 === 0) return x.toFixed(digits)
  const scale = 10 ** digits
  let units = Math.floor(x * scale)
  if (units % 2 !== 0) units++
  const whole = Math.floor(units / scale)
  const fraction = String(units % scale).padStart(digits, '0')
  return digits === 0 ? String(whole) : `${whole}.${fraction}`
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB']

/**
 * A size as buildctl prints it (`%.2f` of tonistiigi/units `Bytes`): decimal units with two decimals
 * (`1.05MB`, `12.35kB`), and whole bytes below 1000 (`72B`).
 * @internal
 */
export function formatBuildBytes(n: number): string {
  let unit = 0
  let base = 1
  while (unit < DECIMAL_UNITS.length - 1 && n >= base * 1000) {
    base *= 1000
    unit++
  }
  if (unit === 0) return `${n}B`
  return `${formatFixed(n / base, 2)}${DECIMAL_UNITS[unit]}`
}
