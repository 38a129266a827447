import { createHash } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FailedPreconditionError, InvalidArgumentError, PermissionDeniedError, ResourceExhaustedError, type ContainerdError } from '../grpc/errors.js'
import { checkDataStore } from './log-config.js'

/**
 * The json-file logger shipped in the package (a perl program). The same relative path holds from
 * `src/logs` (run with tsx) and from `dist/logs` (built): both sit two levels below the package root,
 * beside `bin/`. Log URIs never point here: see {@link installJsonFileLogger}.
 */
export const JSON_FILE_LOGGER_PATH: string = fileURLToPath(new URL('../../bin/containerd-sdk-logger.pl', import.meta.url))

/**
 * The perl the shim runs the logger with: Debian's `perl-base` is Essential, so this path is there on every
 * Debian-based host, and it does not move when the app's node_modules or Node do.
 */
export const PERL_PATH = '/usr/bin/perl'

/** The folder of a data store that holds installed logger copies. */
const LOGGER_DIR = 'bin'

/** The shipped logger's bytes and content name, read once. */
let shipped: { bytes: Buffer; name: string } | undefined

function shippedLogger(): { bytes: Buffer; name: string } {
  if (shipped === undefined) {
    let bytes: Buffer
    try {
      bytes = readFileSync(JSON_FILE_LOGGER_PATH)
    } catch (err) {
      throw new InvalidArgumentError(`the json-file logger is missing at ${JSON_FILE_LOGGER_PATH}: the package's bin/ folder was not installed`, { cause: err })
    }
    const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16)
    shipped = { bytes, name: `containerd-sdk-logger-${digest}.pl` }
  }
  return shipped
}

/**
 * Installs the shipped logger into the data store, at `<dataStore>/bin/containerd-sdk-logger-<sha256 prefix>.pl`,
 * and returns that path. A container's log URI is stored with the container (and in its restart labels), so
 * it must keep working after this package moves (an app redeploy replaces node_modules) or Node is upgraded:
 * the data store is the SDK's own, stable place, and it is already in the URI. The name is content-addressed,
 * so two SDK versions using one data store each keep their own copy and a running or restarted container
 * always finds the program it was created with. Written to a temp file, synced and renamed, only when missing
 * or of the wrong size (a torn copy from a crash). Checked at every call (one stat), so a data store wiped
 * while this process runs gets its copy back.
 * @throws InvalidArgumentError for a relative data store or a package without its bin/ folder;
 *   PermissionDeniedError, ResourceExhaustedError (disk full) or FailedPreconditionError (e.g. a file where a
 *   folder should be) when the copy cannot be written.
 */
export function installJsonFileLogger(dataStore: string): string {
  checkDataStore(dataStore)
  const { bytes, name } = shippedLogger()
  const dir = join(dataStore, LOGGER_DIR)
  const path = join(dir, name)
  let present = false
  try {
    present = statSync(path).size === bytes.length
  } catch {
    // Not installed yet.
  }
  if (!present) {
    try {
      writeAtomically(dir, name, bytes)
    } catch (err) {
      throw installError(path, err)
    }
  }
  return path
}

function writeAtomically(dir: string, name: string, bytes: Buffer): void {
  // 0700 like the data store nerdctl makes (this may be the first thing in it); only the shim (root, or this user when rootless) reads it.
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const tmp = join(dir, `.${name}.${process.pid}.tmp`)
  try {
    const fd = openSync(tmp, 'w', 0o644)
    try {
      // Bounded: each round writes at least one byte or throws.
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, join(dir, name))
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
}

/** A typed error for a data store the logger cannot be written into. */
function installError(path: string, err: unknown): ContainerdError {
  const code = (err as NodeJS.ErrnoException).code
  const message = `cannot install the json-file logger at ${path}: ${err instanceof Error ? err.message : String(err)}`
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new PermissionDeniedError(message, { cause: err })
  if (code === 'ENOSPC' || code === 'EDQUOT') return new ResourceExhaustedError(message, { cause: err })
  return new FailedPreconditionError(message, { cause: err })
}

/** What {@link jsonFileLogUri} needs. */
export interface JsonFileLogUriOptions {
  /** The data store the logger writes under (see `dataStorePath`); absolute. */
  dataStore: string
  /** The perl the shim runs the logger with. Default `/usr/bin/perl` (Debian's Essential perl-base). */
  perl?: string
  /**
   * The logger file. Default: the shipped one, installed into the data store (see
   * {@link installJsonFileLogger}). Set it when the shim cannot see the data store's files (the SDK running
   * in another mount namespace) and a copy lives elsewhere.
   */
  logger?: string
}

/**
 * The `binary://` log URI that makes containerd's shim run the json-file logger for a task:
 * `binary://<perl>?<logger>=<dataStore>` (the shim turns the one query pair into the two arguments
 * `<logger> <dataStore>`). Neither path depends on where this package or Node is installed. Installs the
 * logger into the data store when it is not there yet. Pass it as `newTask({ stdio: { logUri } })` after
 * `prepareJsonFileLog`.
 * @throws InvalidArgumentError for a relative data store, perl or logger path, or a package without its bin/ folder;
 *   FailedPreconditionError when perl is missing; the errors of {@link installJsonFileLogger}.
 */
export function jsonFileLogUri(options: JsonFileLogUriOptions): string {
  checkDataStore(options.dataStore)
  const perl = options.perl ?? PERL_PATH
  checkAbsolute('perl', perl)
  // Said here, not as the shim's "failed to start binary process" at task start.
  if (!existsSync(perl)) throw new FailedPreconditionError(`json-file logging needs perl at ${perl} (Debian's Essential perl-base package); it is missing`)
  if (options.logger !== undefined) checkAbsolute('logger', options.logger)
  const logger = options.logger ?? installJsonFileLogger(options.dataStore)
  return `binary://${encodePath(perl)}?${encodeURIComponent(logger)}=${encodeURIComponent(options.dataStore)}`
}

function checkAbsolute(option: string, value: unknown): void {
  if (typeof value !== 'string' || !value.startsWith('/')) throw new InvalidArgumentError(`${option} must be an absolute path; got ${JSON.stringify(value)}`)
}

/** Percent-encodes each segment, so `?`, `#`, `%` or spaces in a path cannot change the URI's meaning. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}
