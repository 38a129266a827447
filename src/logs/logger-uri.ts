import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { InvalidArgumentError } from '../grpc/errors.js'
import { checkDataStore } from './log-config.js'

/**
 * The json-file logger shipped in the package. The same relative path holds from `src/logs` (run with
 * tsx) and from `dist/logs` (built): both sit two levels below the package root, beside `bin/`.
 */
export const JSON_FILE_LOGGER_PATH: string = fileURLToPath(new URL('../../bin/containerd-sdk-logger.mjs', import.meta.url))

/** What {@link jsonFileLogUri} needs. */
export interface JsonFileLogUriOptions {
  /** The data store the logger writes under (see `dataStorePath`); absolute. */
  dataStore: string
  /**
   * The node binary the shim runs the logger with. Default `process.execPath`, the node running this
   * SDK. `null` runs the logger through its `#!/usr/bin/env node` line instead: the shim gives the
   * logger no PATH, so `env` then looks only in `/bin:/usr/bin`.
   */
  node?: string | null
  /**
   * The logger file. Default the one shipped in the package; set it when the shim cannot see this
   * package's files (the SDK running in another mount namespace) and a copy lives elsewhere.
   */
  logger?: string
}

/**
 * The `binary://` log URI that makes containerd's shim run the shipped json-file logger for a task:
 * `binary://<node>?<logger>=<dataStore>` (the shim turns the one query pair into the two arguments
 * `<logger> <dataStore>`), or `binary://<logger>?data-store=<dataStore>` with `node: null`. Pass it as
 * `newTask({ stdio: { logUri } })` after `prepareJsonFileLog`.
 * @throws InvalidArgumentError for a relative data store, node or logger path, or a missing logger file.
 */
export function jsonFileLogUri(options: JsonFileLogUriOptions): string {
  checkDataStore(options.dataStore)
  const logger = options.logger ?? JSON_FILE_LOGGER_PATH
  checkAbsolute('logger', logger)
  if (options.logger === undefined && !existsSync(logger)) {
    throw new InvalidArgumentError(`the json-file logger is missing at ${logger}: the package's bin/ folder was not installed`)
  }
  const node = options.node === undefined ? process.execPath : options.node
  if (node === null) return `binary://${encodePath(logger)}?data-store=${encodeURIComponent(options.dataStore)}`
  checkAbsolute('node', node)
  return `binary://${encodePath(node)}?${encodeURIComponent(logger)}=${encodeURIComponent(options.dataStore)}`
}

function checkAbsolute(option: string, value: unknown): void {
  if (typeof value !== 'string' || !value.startsWith('/')) throw new InvalidArgumentError(`${option} must be an absolute path; got ${JSON.stringify(value)}`)
}

/** Percent-encodes each segment, so `?`, `#`, `%` or spaces in a path cannot change the URI's meaning. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}
