import { ContainerdError, type ErrorCode } from '../../grpc/errors.js'

/** Why a file transfer (build context upload or exporter download) failed. */
export type FileSyncErrorReason =
  /** An include, exclude or `.dockerignore` pattern does not parse (an unclosed `[`, a trailing `\`, a lone `!`). */
  | 'BadPattern'
  /** The peer asked for an entry that is not a regular file of the listing, or asked for it twice. */
  | 'UnknownFile'
  /** The peer sent an ERR packet; the message carries its text. */
  | 'PeerError'
  /** The peer broke the protocol: a packet out of place, entries out of order, the stream ending early. */
  | 'Protocol'
  /** A received path is absolute, contains `..`, or would be written through a symlink. */
  | 'UnsafePath'
  /** The context root is missing or not a directory. */
  | 'BadContext'
  /** Reading the context or writing the download failed (permissions, a full disk, a file swapped for a symlink); `cause` is the system error. */
  | 'Io'

// The errdefs class each reason travels as, so `err instanceof InvalidArgumentError` etc. work as elsewhere.
const CLASS_OF: Readonly<Record<FileSyncErrorReason, ErrorCode>> = {
  BadPattern: 'InvalidArgument',
  UnknownFile: 'InvalidArgument',
  PeerError: 'Unknown',
  Protocol: 'DataLoss',
  UnsafePath: 'InvalidArgument',
  BadContext: 'InvalidArgument',
  Io: 'Unknown',
}

const brand = Symbol.for('containerd-sdk.FileSyncError')

/**
 * A build context upload or an exporter download failed. It is a {@link ContainerdError} whose `code` is
 * the errdefs class following from `reason`; `path` names the entry concerned, when there is one.
 */
export class FileSyncError extends ContainerdError {
  /** What exactly went wrong. */
  readonly reason: FileSyncErrorReason
  /** The entry concerned, when the problem belongs to one. */
  readonly path: string | undefined

  /** Creates the error; the errdefs class follows from `reason`. */
  constructor(reason: FileSyncErrorReason, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(CLASS_OF[reason], message, options.cause === undefined ? {} : { cause: options.cause })
    this.name = 'FileSyncError'
    this.reason = reason
    this.path = options.path
    Object.defineProperty(this, brand, { value: true })
  }

  /** Brand check: the inherited one would accept any ContainerdError of the same class. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && brand in value
  }
}

/** Wraps a system error from reading or writing `path` (`what` says which operation) as a `FileSyncError`. */
export function ioError(cause: unknown, what: string, path: string): FileSyncError {
  if (cause instanceof FileSyncError) return cause
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new FileSyncError('Io', `${what} ${path}: ${detail}`, { cause, path })
}
