/**
 * Typed errors mirroring containerd's errdefs classes.
 *
 * containerd reports failures as gRPC status codes; its Go client turns them back into error classes
 * (`errdefs/pkg/errgrpc`). We do the same once, in the transport, so every public call throws one of these.
 */

/** gRPC status codes as numbers (the same values connect and grpc-go use). */
export const GrpcCode = {
  /** Success. */
  OK: 0,
  /** The caller canceled. */
  Canceled: 1,
  /** Unclassified failure. */
  Unknown: 2,
  /** Malformed request. */
  InvalidArgument: 3,
  /** The deadline passed. */
  DeadlineExceeded: 4,
  /** The object does not exist. */
  NotFound: 5,
  /** The object already exists. */
  AlreadyExists: 6,
  /** Not allowed. */
  PermissionDenied: 7,
  /** A limit was hit. */
  ResourceExhausted: 8,
  /** Wrong state for the call (also Conflict and NotModified in containerd). */
  FailedPrecondition: 9,
  /** Aborted, e.g. by a concurrent change. */
  Aborted: 10,
  /** A value out of range. */
  OutOfRange: 11,
  /** Not implemented by this server. */
  Unimplemented: 12,
  /** Internal server failure. */
  Internal: 13,
  /** The server cannot be reached. */
  Unavailable: 14,
  /** Data lost or corrupted. */
  DataLoss: 15,
  /** Missing or wrong credentials. */
  Unauthenticated: 16,
} as const

/** A numeric gRPC status code. */
export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode]

/**
 * The errdefs class of an error. `Conflict` and `NotModified` travel as FailedPrecondition on the wire and
 * are told apart by containerd's message suffix, like the Go client does.
 */
export type ErrorCode =
  | 'Unknown'
  | 'Canceled'
  | 'DeadlineExceeded'
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'PermissionDenied'
  | 'ResourceExhausted'
  | 'FailedPrecondition'
  | 'Conflict'
  | 'NotModified'
  | 'Aborted'
  | 'OutOfRange'
  | 'NotImplemented'
  | 'Internal'
  | 'Unavailable'
  | 'DataLoss'
  | 'Unauthenticated'

const brand = Symbol.for('containerd-sdk.ContainerdError')

/** Options accepted by every error constructor. */
export interface ContainerdErrorOptions {
  /** The underlying error (a socket error, the caller's abort reason, …). */
  cause?: unknown
  /** The gRPC code the daemon sent; defaults to the code matching the class. */
  grpcCode?: GrpcCode
  /** The gRPC method that failed, e.g. `/containerd.services.containers.v1.Containers/Get`. */
  method?: string
}

/**
 * Base class of every error the SDK throws for a daemon or transport failure.
 *
 * Branch on the subclass (`err instanceof NotFoundError`) or on `err.code`. `instanceof` works across
 * duplicate copies of the package because it checks a `Symbol.for` brand.
 */
export class ContainerdError extends Error {
  /** The errdefs class. */
  readonly code: ErrorCode
  /** The gRPC status code, as sent by the daemon or implied by the class. */
  readonly grpcCode: GrpcCode
  /** The gRPC method that failed, when the error came from a call. */
  readonly method: string | undefined

  constructor(code: ErrorCode, message: string, options: ContainerdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = `${code}Error`
    this.code = code
    this.grpcCode = options.grpcCode ?? grpcCodeOf(code)
    this.method = options.method
    Object.defineProperty(this, brand, { value: true })
  }

  /** Brand check, so that `instanceof` also recognises errors from another copy of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || !(brand in value)) return false
    // On the base class any branded error matches; on a subclass only errors of its code.
    const code = (this as unknown as { errorCode?: ErrorCode }).errorCode
    return code === undefined || (value as unknown as ContainerdError).code === code
  }
}

function defineClass(code: ErrorCode): new (message: string, options?: ContainerdErrorOptions) => ContainerdError {
  return class extends ContainerdError {
    static readonly errorCode = code
    constructor(message: string, options?: ContainerdErrorOptions) {
      super(code, message, options)
    }
  }
}

/** The object does not exist (gRPC NotFound). */
export class NotFoundError extends defineClass('NotFound') {}
/** The object already exists (gRPC AlreadyExists). */
export class AlreadyExistsError extends defineClass('AlreadyExists') {}
/** The request was malformed: a bad identifier, a missing field, a wrong value (gRPC InvalidArgument). */
export class InvalidArgumentError extends defineClass('InvalidArgument') {}
/** The system is not in a state that allows the call (gRPC FailedPrecondition). */
export class FailedPreconditionError extends defineClass('FailedPrecondition') {}
/** The object changed concurrently, or a lock is held: retry may succeed (FailedPrecondition "conflict"). */
export class ConflictError extends defineClass('Conflict') {}
/** The update changed nothing (FailedPrecondition "not modified"). */
export class NotModifiedError extends defineClass('NotModified') {}
/** The daemon cannot be reached or is restarting (gRPC Unavailable). */
export class UnavailableError extends defineClass('Unavailable') {}
/** The call was canceled, usually by the caller's AbortSignal; `cause` holds the signal's reason. */
export class CanceledError extends defineClass('Canceled') {}
/** The call's deadline (`timeoutMs`) passed. */
export class DeadlineExceededError extends defineClass('DeadlineExceeded') {}
/** The caller lacks permission (gRPC PermissionDenied). */
export class PermissionDeniedError extends defineClass('PermissionDenied') {}
/** Authentication is missing or wrong (gRPC Unauthenticated). */
export class UnauthenticatedError extends defineClass('Unauthenticated') {}
/** A limit was hit: message size, quota (gRPC ResourceExhausted). */
export class ResourceExhaustedError extends defineClass('ResourceExhausted') {}
/** The operation was aborted, e.g. a transaction conflict (gRPC Aborted). */
export class AbortedError extends defineClass('Aborted') {}
/** A value is outside its valid range, e.g. a read past the end of a blob (gRPC OutOfRange). */
export class OutOfRangeError extends defineClass('OutOfRange') {}
/** The daemon does not implement this call, often because it is too old (gRPC Unimplemented). */
export class NotImplementedError extends defineClass('NotImplemented') {}
/** The daemon failed internally (gRPC Internal). */
export class InternalError extends defineClass('Internal') {}
/** Data was lost or corrupted, e.g. a digest mismatch (gRPC DataLoss). */
export class DataLossError extends defineClass('DataLoss') {}
/** A failure the daemon did not classify (gRPC Unknown). */
export class UnknownError extends defineClass('Unknown') {}

const classes: Record<ErrorCode, new (message: string, options?: ContainerdErrorOptions) => ContainerdError> = {
  Unknown: UnknownError,
  Canceled: CanceledError,
  DeadlineExceeded: DeadlineExceededError,
  InvalidArgument: InvalidArgumentError,
  NotFound: NotFoundError,
  AlreadyExists: AlreadyExistsError,
  PermissionDenied: PermissionDeniedError,
  ResourceExhausted: ResourceExhaustedError,
  FailedPrecondition: FailedPreconditionError,
  Conflict: ConflictError,
  NotModified: NotModifiedError,
  Aborted: AbortedError,
  OutOfRange: OutOfRangeError,
  NotImplemented: NotImplementedError,
  Internal: InternalError,
  Unavailable: UnavailableError,
  DataLoss: DataLossError,
  Unauthenticated: UnauthenticatedError,
}

/** Creates the error class matching `code`. */
export function createError(code: ErrorCode, message: string, options?: ContainerdErrorOptions): ContainerdError {
  return new classes[code](message, options)
}

function grpcCodeOf(code: ErrorCode): GrpcCode {
  switch (code) {
    case 'Conflict':
    case 'NotModified':
      return GrpcCode.FailedPrecondition
    case 'NotImplemented':
      return GrpcCode.Unimplemented
    default:
      return GrpcCode[code]
  }
}

/**
 * Maps a gRPC status to its errdefs class. containerd appends the class name to FailedPrecondition messages
 * (`…: conflict`, `…: not modified`), which is the only way to tell those two apart on the wire.
 *
 * An Unknown status whose message says the task or process is in the wrong state for the call (the
 * runc shim's and runc's refusals, listed at `RUNTIME_STATE_MESSAGES` below) becomes
 * `FailedPreconditionError`; its `grpcCode` keeps the Unknown that was sent.
 */
export function errorFromStatus(grpcCode: number, message: string, method?: string): ContainerdError {
  let code: ErrorCode = CODE_BY_GRPC[grpcCode] ?? 'Unknown'
  if (code === 'FailedPrecondition') {
    if (hasClassSuffix(message, 'conflict')) code = 'Conflict'
    else if (hasClassSuffix(message, 'not modified')) code = 'NotModified'
  } else if (grpcCode === GrpcCode.Unknown && isRuntimeStateMessage(message)) {
    code = 'FailedPrecondition'
  }
  const options: ContainerdErrorOptions = { grpcCode: grpcCode as GrpcCode }
  if (method !== undefined) options.method = method
  return createError(code, message, options)
}

// gRPC code → errdefs class; OK and unlisted codes are Unknown.
const CODE_BY_GRPC: Partial<Record<number, ErrorCode>> = {
  [GrpcCode.Canceled]: 'Canceled',
  [GrpcCode.InvalidArgument]: 'InvalidArgument',
  [GrpcCode.DeadlineExceeded]: 'DeadlineExceeded',
  [GrpcCode.NotFound]: 'NotFound',
  [GrpcCode.AlreadyExists]: 'AlreadyExists',
  [GrpcCode.PermissionDenied]: 'PermissionDenied',
  [GrpcCode.ResourceExhausted]: 'ResourceExhausted',
  [GrpcCode.FailedPrecondition]: 'FailedPrecondition',
  [GrpcCode.Aborted]: 'Aborted',
  [GrpcCode.OutOfRange]: 'OutOfRange',
  [GrpcCode.Unimplemented]: 'NotImplemented',
  [GrpcCode.Internal]: 'Internal',
  [GrpcCode.Unavailable]: 'Unavailable',
  [GrpcCode.DataLoss]: 'DataLoss',
  [GrpcCode.Unauthenticated]: 'Unauthenticated',
}

// The runc shim's process state machine (containerd pkg/process: init_state.go, exec_state.go,
// deleted_state.go) refuses calls that do not fit the current state with plain errors, which containerd
// forwards as gRPC Unknown (1.6/1.7 append ": unknown", 2.x does not): "cannot exec in a stopped state",
// "cannot pause a stopped container", "cannot resume a running process", "cannot start a stopped process",
// "cannot resize a stopped container", "cannot pause task in created state", "cannot checkpoint a task in
// created state"... Each says the object is in the wrong state for the call: FailedPrecondition in errdefs
// terms, which is what callers branch on. runc's own refusals reach us wrapped the same way ("OCI runtime
// exec failed: exec failed: cannot exec in a stopped container"; libcontainer's ErrNotRunning "container
// not running", ErrNotPaused "container not paused"; `runc start`'s "cannot start a container that has
// stopped"), as does Go's os.ErrProcessDone ("os: process already finished") when a process exits under
// the call.
const RUNTIME_STATE_MESSAGES: readonly RegExp[] = [
  /\bcannot (?:start|delete|pause|resume|update|checkpoint|resize|exec in|kill) (?:an? )?(?:task in )?(?:created|running|paused|stopped|deleted) (?:state|process|container)\b/,
  /\bcannot start (?:a container that has stopped|an already running container)\b/,
  /\b(?:container|process|task)\b[^:]*\bnot (?:running|paused)\b/,
  /\bprocess already finished\b/,
]

/** True when an Unknown status's message is one of the shim's or runc's "wrong state for this call" refusals. */
function isRuntimeStateMessage(message: string): boolean {
  return RUNTIME_STATE_MESSAGES.some((pattern) => pattern.test(message))
}

function hasClassSuffix(message: string, cls: string): boolean {
  return message === cls || message.endsWith(`: ${cls}`)
}

/** True when `err` is any error thrown by this SDK for a daemon or transport failure. */
export function isContainerdError(err: unknown): err is ContainerdError {
  return err instanceof ContainerdError
}
