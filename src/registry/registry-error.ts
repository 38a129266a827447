/**
 * The one error class of the registry code: auth, credentials, host configuration and the wire protocol.
 *
 * Registry failures are not containerd daemon failures (they never travel as gRPC statuses), so they get
 * their own class rather than a `ContainerdError` code.
 */

/** What went wrong, coarse enough to branch on. */
export type RegistryErrorCode =
  /** The registry wants credentials we do not have, or rejected the ones we sent (HTTP 401). */
  | 'Unauthorized'
  /** The credentials were accepted but do not grant the operation (HTTP 403). */
  | 'Denied'
  /** The repository, manifest or blob does not exist (HTTP 404). */
  | 'NotFound'
  /** A configuration file or option is malformed: config.json, DOCKER_AUTH_CONFIG, hosts.toml, certificates. */
  | 'InvalidConfig'
  /** A `docker-credential-*` helper failed, timed out or answered garbage. */
  | 'CredentialHelper'
  /** A response was larger than we are willing to buffer (e.g. a manifest over the size cap). */
  | 'TooLarge'
  /** Content did not hash to the digest it was fetched by. */
  | 'DigestMismatch'
  /** The registry could not be reached or answered 5xx / 429 after retries. */
  | 'Unavailable'
  /** The registry answered something the distribution spec does not allow. */
  | 'Protocol'
  /** An image reference could not be parsed. */
  | 'InvalidReference'

/** Options of the {@link RegistryError} constructor. */
export interface RegistryErrorOptions {
  /** The underlying error. Never put anything here that could carry a credential. */
  cause?: unknown
  /** The HTTP status the registry answered with, when there was a response. */
  status?: number
}

const brand = Symbol.for('containerd-sdk.RegistryError')

/**
 * An error from talking to a registry or from reading its configuration.
 *
 * Messages and causes never contain passwords, tokens or `auth` strings: callers may log them as they are.
 * `instanceof` works across duplicate copies of the package because it checks a `Symbol.for` brand.
 */
export class RegistryError extends Error {
  /** What went wrong. */
  readonly code: RegistryErrorCode
  /** The HTTP status, when the error comes from a registry response. */
  // `declare`: a plain field would always create the property, as undefined, when there is no status.
  declare readonly status?: number

  constructor(code: RegistryErrorCode, message: string, options: RegistryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RegistryError'
    this.code = code
    if (options.status !== undefined) this.status = options.status
    Object.defineProperty(this, brand, { value: true })
  }

  /** Brand check, so that `instanceof` also recognises errors from another copy of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && brand in value
  }
}

/** True when `err` is a {@link RegistryError}, optionally of the given code. */
export function isRegistryError(err: unknown, code?: RegistryErrorCode): err is RegistryError {
  return err instanceof RegistryError && (code === undefined || err.code === code)
}
