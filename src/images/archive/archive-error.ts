import { ContainerdError, type ErrorCode } from '../../grpc/errors.js'

/**
 * Why an image archive was refused. The errdefs class in {@link ArchiveError.code} says how to treat
 * the failure (bad input, corrupted data, something missing); the reason says exactly what was wrong.
 */
export type ArchiveErrorReason =
  /** An entry path is absolute, contains `..`, a NUL byte, or escapes the archive through a link. */
  | 'UnsafePath'
  /** A hard link, device, FIFO, or a symbolic link where only files may be (an image archive needs none). */
  | 'UnsupportedEntry'
  /** The same path appears twice. */
  | 'DuplicateEntry'
  /** The tar (or its gzip wrapping) ends in the middle of an entry. */
  | 'Truncated'
  /** A blob's bytes do not hash to the digest its path or descriptor names. */
  | 'DigestMismatch'
  /** A blob's length differs from the size a descriptor declares. */
  | 'SizeMismatch'
  /** `index.json`, `manifest.json`, a manifest or an index is larger than the 4 MiB JSON limit. */
  | 'TooLarge'
  /** Metadata that does not parse, or parses into the wrong shape; or a tar header that is not one. */
  | 'Malformed'
  /** Neither an OCI layout (`oci-layout` + `index.json`) nor a `docker save` archive (`manifest.json`). */
  | 'UnrecognizedFormat'
  /** `oci-layout` declares a layout version other than 1.0.0. */
  | 'UnsupportedVersion'
  /** A blob the selected images need is neither in the archive nor in the content store. */
  | 'MissingBlob'
  /** A multi-platform image has no manifest for the requested platform. */
  | 'PlatformNotFound'
  /** An image name in the archive is not a valid reference. */
  | 'InvalidName'

// The errdefs class each reason travels as, so `err instanceof DataLossError` etc. work as elsewhere.
const CLASS_OF: Readonly<Record<ArchiveErrorReason, ErrorCode>> = {
  UnsafePath: 'InvalidArgument',
  UnsupportedEntry: 'InvalidArgument',
  DuplicateEntry: 'InvalidArgument',
  Truncated: 'DataLoss',
  DigestMismatch: 'DataLoss',
  SizeMismatch: 'DataLoss',
  TooLarge: 'InvalidArgument',
  Malformed: 'InvalidArgument',
  UnrecognizedFormat: 'InvalidArgument',
  UnsupportedVersion: 'InvalidArgument',
  MissingBlob: 'NotFound',
  PlatformNotFound: 'NotFound',
  InvalidName: 'InvalidArgument',
}

const archiveBrand = Symbol.for('containerd-sdk.ArchiveError')

/**
 * An image archive was refused. It is a {@link ContainerdError} whose `code` is the errdefs class
 * (`InvalidArgument` for unsafe or malformed input, `DataLoss` for corrupted or truncated data,
 * `NotFound` for missing content), so `err instanceof DataLossError` holds for a digest mismatch;
 * `reason` names the precise problem and `path` the archive entry, when there is one.
 */
export class ArchiveError extends ContainerdError {
  /** What exactly was wrong with the archive. */
  readonly reason: ArchiveErrorReason
  /** The archive entry concerned, when the problem belongs to one. */
  readonly path: string | undefined

  /** Creates the error; the errdefs class follows from `reason`. */
  constructor(reason: ArchiveErrorReason, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(CLASS_OF[reason], message, options.cause === undefined ? {} : { cause: options.cause })
    this.name = 'ArchiveError'
    this.reason = reason
    this.path = options.path
    Object.defineProperty(this, archiveBrand, { value: true })
  }

  /**
   * Brand check: the inherited check would accept any ContainerdError, since this class has no single
   * errdefs class of its own.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && archiveBrand in value
  }
}
