/**
 * The progress of a BuildKit build in domain shapes: what the Control.Status stream of a Solve reports
 * (steps, their counters, their output, lint warnings), converted from the wire messages in one place so
 * that no generated type reaches a caller.
 */

import type { StatusResponse, Vertex, VertexLog, VertexStatus, VertexWarning } from '../../gen/moby/buildkit/api/services/control/control_pb.js'
import { toDate } from '../../client/time.js'

/** A progress counter inside a step: bytes of a transfer, a layer being extracted. */
export interface BuildVertexStatus {
  /** The counter's id, unique within its step: `transferring context:`, a layer digest, `extracting sha256:…`. */
  readonly id: string
  /** A display name; often empty, renderers show the id. */
  readonly name: string
  /** Units done so far (bytes for transfers). */
  readonly current: number
  /** Units expected; 0 when unknown. */
  readonly total: number
  /** When the daemon last updated the counter. */
  readonly timestamp?: Date
  /** When the counter started. */
  readonly started?: Date
  /** When the counter finished; absent while it runs. */
  readonly completed?: Date
}

/**
 * One step of the build graph (a vertex), e.g. `[2/3] RUN make`, `[internal] load build definition from
 * Dockerfile`. Its output is not kept here: it arrives as {@link BuildLog} events, and a
 * `BuildProgressTracker` keeps the last lines of each step.
 */
export interface BuildVertex {
  /** The vertex digest, its identity in the build. */
  readonly digest: string
  /** What the step does, as the frontend named it. */
  readonly name: string
  /** Digests of the vertices it depends on. */
  readonly inputs: readonly string[]
  /** True when the result came from the cache (the step did not run). */
  readonly cached: boolean
  /** When the step started; absent while it waits. */
  readonly started?: Date
  /** When the step ended, successfully or not; absent while it waits or runs. */
  readonly completed?: Date
  /** Why the step failed; absent when it did not. Ends with `context canceled` when another failure (or the caller) stopped it. */
  readonly error?: string
  /** Its progress counters, in the order they first appeared. */
  readonly statuses: readonly BuildVertexStatus[]
}

/** Which output stream of a step's process a log chunk comes from. */
export type BuildLogStream = 'stdout' | 'stderr'

/** A chunk of a step's output. Chunks are not aligned to lines: a line may span several. */
export interface BuildLog {
  /** The digest of the step that printed it. */
  readonly vertex: string
  /** The stream it was written to. */
  readonly stream: BuildLogStream
  /** The bytes, as the process wrote them. */
  readonly data: Uint8Array
  /** When the daemon read them; absent when the daemon sent no time (BuildKit always does). */
  readonly timestamp?: Date
}

/** A warning attached to a step, e.g. a Dockerfile lint check (BuildKit v0.10 and later). */
export interface BuildWarning {
  /** The digest of the step it belongs to. */
  readonly vertex: string
  /** Its severity, as BuildKit numbers it. */
  readonly level: number
  /** The one-line summary. */
  readonly short: string
  /** Further lines of explanation. */
  readonly detail: readonly string[]
  /** A page explaining the check, when there is one. */
  readonly url?: string
}

/** A step started, finished (done, cached or failed), or one of its counters changed. */
export interface BuildVertexEvent {
  /** Discriminant. */
  readonly type: 'vertex'
  /** The step's whole state after the change. */
  readonly vertex: BuildVertex
}

/** A step printed something. */
export interface BuildLogEvent {
  /** Discriminant. */
  readonly type: 'log'
  /** The chunk. */
  readonly log: BuildLog
}

/** A step carries a warning. */
export interface BuildWarningEvent {
  /** Discriminant. */
  readonly type: 'warning'
  /** The warning. */
  readonly warning: BuildWarning
}

/**
 * One progress event of a build, as delivered to `onProgress`. For each step a `vertex` event comes
 * before its `log` and `warning` events, and the event that completes a step comes after the output it
 * printed before completing.
 */
export type BuildProgressEvent = BuildVertexEvent | BuildLogEvent | BuildWarningEvent

/** Receives build progress events; called synchronously, so keep it cheap. */
export type BuildProgressListener = (event: BuildProgressEvent) => void

/**
 * The events of one Status message on its own: what a new `BuildProgressTracker` returns for it. Vertex
 * records repeated within the message are merged; a step the message mentions only through a counter, a
 * log or a warning is described by its digest alone (empty name, not started), since the message does not
 * say more. Feed the whole stream to a `BuildProgressTracker` to get steps merged across messages.
 */
export function toProgressEvents(response: StatusResponse): BuildProgressEvent[] {
  return applyStatusResponse(new Map(), response)
}

/**
 * @internal Merges one Status message into `known` (steps by digest, updated in place) and returns the
 * events it causes, in this order:
 * 1. a `vertex` event per step whose state changed, in the order the message first mentions it; a step
 *    that completes in this message while also printing in it is first delivered without its completion;
 * 2. the message's warnings, then its logs (the order in which buildctl prints a step's output);
 * 3. the completions held back in 1, so they follow the output printed before them.
 */
export function applyStatusResponse(known: Map<string, BuildVertex>, response: StatusResponse): BuildProgressEvent[] {
  // The state of each step this message touches, as it was before the message.
  const before = new Map<string, BuildVertex | undefined>()
  const touch = (digest: string): BuildVertex => {
    const current = known.get(digest)
    if (!before.has(digest)) before.set(digest, current)
    if (current !== undefined) return current
    // BuildKit announces a step before anything else about it; an unannounced one still gets an entry,
    // so that its output is not lost and listeners always see a step before its output.
    const stub: BuildVertex = { digest, name: '', inputs: [], cached: false, statuses: [] }
    known.set(digest, stub)
    return stub
  }

  for (const record of response.vertexes) {
    const previous = touch(record.digest)
    known.set(record.digest, replaceVertex(previous, record))
  }
  for (const status of response.statuses) {
    const previous = touch(status.vertex)
    known.set(status.vertex, withStatus(previous, toStatus(status)))
  }
  const warnings = response.warnings.map(toWarning)
  const logs = response.logs.map(toLog)
  const printing = new Set<string>()
  for (const item of [...warnings, ...logs]) {
    touch(item.vertex)
    printing.add(item.vertex)
  }

  const events: BuildProgressEvent[] = []
  const completions: BuildProgressEvent[] = []
  for (const [digest, previous] of before) {
    const vertex = known.get(digest) as BuildVertex
    if (previous !== undefined && sameVertex(previous, vertex)) continue
    if (printing.has(digest) && isFinished(vertex) && (previous === undefined || !isFinished(previous))) {
      const open = withoutCompletion(vertex)
      if (previous === undefined || !sameVertex(previous, open)) events.push({ type: 'vertex', vertex: open })
      completions.push({ type: 'vertex', vertex })
    } else {
      events.push({ type: 'vertex', vertex })
    }
  }
  for (const warning of warnings) events.push({ type: 'warning', warning })
  for (const log of logs) events.push({ type: 'log', log })
  events.push(...completions)
  return events
}

/** @internal True when a step's error only says it was stopped (BuildKit's `context canceled`), not why the build failed. */
export function isCanceledMessage(error: string): boolean {
  return error.endsWith('context canceled')
}

/** True when the step has ended, one way or another. */
function isFinished(vertex: BuildVertex): boolean {
  return vertex.completed !== undefined || vertex.error !== undefined
}

/**
 * A repeated vertex record replaces the fields of the previous one and keeps its counters, except that a
 * record without a start time does not undo a start (buildctl does the same: the daemon may repeat a
 * step's initial, unstarted record after the step started).
 */
function replaceVertex(previous: BuildVertex, record: Vertex): BuildVertex {
  const started = toDate(record.started)
  if (started === undefined && previous.started !== undefined) return previous
  const completed = toDate(record.completed)
  return {
    digest: record.digest,
    name: record.name,
    inputs: [...record.inputs],
    cached: record.cached,
    ...(started === undefined ? {} : { started }),
    ...(completed === undefined ? {} : { completed }),
    // proto3 strings are '' when unset.
    ...(record.error === '' ? {} : { error: record.error }),
    statuses: previous.statuses,
  }
}

/** The step with `status` replacing the counter of the same id, or added after the others. */
function withStatus(vertex: BuildVertex, status: BuildVertexStatus): BuildVertex {
  const index = vertex.statuses.findIndex((s) => s.id === status.id)
  const statuses = index === -1 ? [...vertex.statuses, status] : vertex.statuses.map((s, i) => (i === index ? status : s))
  return { ...vertex, statuses }
}

function withoutCompletion(vertex: BuildVertex): BuildVertex {
  const { completed: _completed, error: _error, ...open } = vertex
  return open
}

function sameVertex(a: BuildVertex, b: BuildVertex): boolean {
  return (
    a === b ||
    (a.name === b.name &&
      a.cached === b.cached &&
      a.error === b.error &&
      sameTime(a.started, b.started) &&
      sameTime(a.completed, b.completed) &&
      a.inputs.length === b.inputs.length &&
      a.inputs.every((input, i) => input === b.inputs[i]) &&
      a.statuses.length === b.statuses.length &&
      a.statuses.every((s, i) => sameStatus(s, b.statuses[i])))
  )
}

function sameStatus(a: BuildVertexStatus, b: BuildVertexStatus | undefined): boolean {
  return (
    b !== undefined &&
    a.id === b.id &&
    a.name === b.name &&
    a.current === b.current &&
    a.total === b.total &&
    sameTime(a.timestamp, b.timestamp) &&
    sameTime(a.started, b.started) &&
    sameTime(a.completed, b.completed)
  )
}

function sameTime(a: Date | undefined, b: Date | undefined): boolean {
  return a?.getTime() === b?.getTime()
}

function toStatus(status: VertexStatus): BuildVertexStatus {
  const timestamp = toDate(status.timestamp)
  const started = toDate(status.started)
  const completed = toDate(status.completed)
  return {
    id: status.ID,
    name: status.name,
    // int64 counters fit a number: 2^53 bytes is 8 PiB.
    current: Number(status.current),
    total: Number(status.total),
    ...(timestamp === undefined ? {} : { timestamp }),
    ...(started === undefined ? {} : { started }),
    ...(completed === undefined ? {} : { completed }),
  }
}

function toLog(log: VertexLog): BuildLog {
  const timestamp = toDate(log.timestamp)
  return {
    vertex: log.vertex,
    // BuildKit sends 1 for stdout and 2 for stderr; anything else is shown with stdout.
    stream: log.stream === 2n ? 'stderr' : 'stdout',
    data: log.msg,
    ...(timestamp === undefined ? {} : { timestamp }),
  }
}

const utf8 = new TextDecoder()

function toWarning(warning: VertexWarning): BuildWarning {
  return {
    vertex: warning.vertex,
    level: Number(warning.level),
    short: utf8.decode(warning.short),
    detail: warning.detail.map((line) => utf8.decode(line)),
    ...(warning.url === '' ? {} : { url: warning.url }),
  }
}
