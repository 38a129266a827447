import { ContainerdError, type ContainerdErrorOptions, type ErrorCode, type GrpcCode } from '../../grpc/errors.js'
import { isCanceledMessage } from './build-progress.js'
import type { BuildProgressTracker } from './progress-tracker.js'

/** What a {@link BuildError} is about, besides its message. */
export interface BuildErrorOptions {
  /** The name of the step that failed, e.g. `[2/3] RUN make`. */
  step?: string | undefined
  /** The last lines the failed step printed. */
  logs?: readonly string[] | undefined
  /** The error BuildKit reported for the step. */
  vertexError?: string | undefined
  /** The underlying error, usually the Solve call's. */
  cause?: unknown
  /** The gRPC code the Solve call failed with, when it did; defaults to the one matching the class. */
  grpcCode?: GrpcCode | undefined
  /** The gRPC method that failed. */
  method?: string | undefined
}

const buildBrand = Symbol.for('containerd-sdk.BuildError')

/**
 * A build failed. It is a {@link ContainerdError} whose `code` is the class of the Solve call's failure:
 * `Unknown` for a step that failed (BuildKit reports those as gRPC Unknown), `Canceled` when the caller
 * aborted, `Unavailable` when the daemon went away…, so `err instanceof CanceledError` holds for an abort.
 * `step`, `vertexError` and `logs` say where and why, when the progress stream showed a failed step.
 */
export class BuildError extends ContainerdError {
  /** The name of the step the build failed at, e.g. `[2/3] RUN false`; undefined when no step failed. */
  readonly step: string | undefined
  /** The last lines that step printed, oldest first (empty when it printed nothing). */
  readonly logs: readonly string[]
  /** The error BuildKit reported for that step, e.g. `process "/bin/sh -c false" did not complete successfully: exit code: 1`. */
  readonly vertexError: string | undefined

  /** Creates the error; `code` is the errdefs class callers branch on. */
  constructor(code: ErrorCode, message: string, options: BuildErrorOptions = {}) {
    const base: ContainerdErrorOptions = {}
    if (options.cause !== undefined) base.cause = options.cause
    if (options.grpcCode !== undefined) base.grpcCode = options.grpcCode
    if (options.method !== undefined) base.method = options.method
    super(code, message, base)
    this.name = 'BuildError'
    this.step = options.step
    this.logs = Object.freeze([...(options.logs ?? [])])
    this.vertexError = options.vertexError
    Object.defineProperty(this, buildBrand, { value: true })
  }

  /**
   * Brand check: the inherited check would accept any ContainerdError, since this class has no single
   * errdefs class of its own.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && buildBrand in value
  }
}

/**
 * The error for a failed build: where it failed and why, from what the tracker saw of the Status stream,
 * with the Solve call's error as `cause` (its class and gRPC code carried over when it is a
 * {@link ContainerdError}). The message reads
 * `build failed at [2/3] RUN false: process "/bin/sh -c false" did not complete successfully: exit code: 1`
 * followed by the step's last log lines, indented; without a failed step (or when the only one was
 * canceled) it is `build failed: ` and the Solve error's message. A {@link BuildError} is returned as is.
 */
export function buildErrorFrom(tracker: BuildProgressTracker, solveError: unknown): BuildError {
  if (solveError instanceof BuildError) return solveError
  const vertex = tracker.failedVertex()
  const step = vertex === undefined ? undefined : vertex.name || vertex.digest
  const logs = vertex === undefined ? [] : tracker.lastLogLines(vertex.digest)
  const vertexError = vertex?.error
  let message =
    step !== undefined && vertexError !== undefined && !isCanceledMessage(vertexError)
      ? `build failed at ${step}: ${vertexError}`
      : `build failed: ${messageOf(solveError)}`
  if (logs.length > 0) message += `\n${logs.map((line) => (line === '' ? '' : `  ${line}`)).join('\n')}`
  const options: BuildErrorOptions = { step, logs, vertexError, cause: solveError }
  if (solveError instanceof ContainerdError) {
    options.grpcCode = solveError.grpcCode
    options.method = solveError.method
  }
  return new BuildError(solveError instanceof ContainerdError ? solveError.code : 'Unknown', message, options)
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message
  if (err === undefined || err === null) return 'unknown error'
  return String(err)
}
