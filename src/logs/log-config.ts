import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { InvalidArgumentError } from '../grpc/errors.js'
import { validateIdentifier } from '../client/identifiers.js'
import { containerStateDir, jsonLogPath } from '../nerdctl/data-store.js'

/** The file beside the log that tells the logger how to rotate (nerdctl's name and shape). */
export const LOG_CONFIG_FILE = 'log-config.json'

/** Rotation and placement of a container's json-file log. */
export interface JsonFileLogOptions {
  /**
   * Rotate the log once it reaches this size: bytes, or nerdctl's/Docker's human form (`'10m'` is
   * 10,000,000 bytes: nerdctl's decimal units). Default: never rotate.
   */
  maxSize?: number | string
  /** How many files to keep, the live one included (Docker's `max-file`); needs `maxSize`. Default 1. */
  maxFile?: number
  /**
   * The containerd socket, recorded as `host` in log-config.json the way nerdctl does (its own logger
   * reads it; ours does not need it). Optional.
   */
  address?: string
}

/** Where a container's json-file log lives. */
export interface JsonFileLogPaths {
  /** `<store>/containers/<ns>/<id>`. */
  stateDir: string
  /** `<state dir>/<id>-json.log`. */
  logPath: string
  /** `<state dir>/log-config.json`. */
  configPath: string
}

/** What {@link prepareJsonFileLog} needs. */
export interface PrepareJsonFileLogOptions extends JsonFileLogOptions {
  /** The data store (see `dataStorePath`); absolute. */
  dataStore: string
  /** The container's namespace. */
  namespace: string
  /** The container's id. */
  id: string
}

/**
 * Gets a container's state dir ready for the json-file logger, before its task is created: creates
 * the dir (0700), writes `log-config.json` (0600, nerdctl's `{"driver":"json-file","opts":{…}}`, written
 * to a temp file and renamed) and an empty log (0600) if there is none. Idempotent; the options replace
 * earlier ones and apply to the next logger started.
 * @throws InvalidArgumentError for a relative data store, a bad id or namespace, or bad rotation values.
 */
export async function prepareJsonFileLog(options: PrepareJsonFileLogOptions): Promise<JsonFileLogPaths> {
  const { dataStore, namespace, id } = options
  checkDataStore(dataStore)
  validateIdentifier('namespace', namespace)
  validateIdentifier('container id', id)
  const opts = rotationOpts(options)
  const stateDir = containerStateDir(dataStore, namespace, id)
  const paths = { stateDir, logPath: jsonLogPath(dataStore, namespace, id), configPath: join(stateDir, LOG_CONFIG_FILE) }
  await mkdir(stateDir, { recursive: true, mode: 0o700 })
  const config: Record<string, unknown> = { driver: 'json-file', opts }
  if (options.address !== undefined) config['host'] = options.address
  const tmp = `${paths.configPath}.${process.pid}.tmp`
  try {
    await writeFile(tmp, JSON.stringify(config), { mode: 0o600 })
    await rename(tmp, paths.configPath)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  // 'a' creates without truncating what an earlier task logged.
  await writeFile(paths.logPath, '', { flag: 'a', mode: 0o600 })
  return paths
}

/** The log path a container's log-config.json names (nerdctl's `log-path` option), or the default. */
export async function configuredLogPath(dataStore: string, namespace: string, id: string): Promise<string> {
  const fallback = jsonLogPath(dataStore, namespace, id)
  try {
    const parsed = JSON.parse(await readFile(join(containerStateDir(dataStore, namespace, id), LOG_CONFIG_FILE), 'utf8')) as unknown
    const logPath = (parsed as { opts?: Record<string, unknown> } | null)?.opts?.['log-path']
    return typeof logPath === 'string' && isAbsolute(logPath) ? logPath : fallback
  } catch {
    return fallback
  }
}

/** @internal Checks a data store path. */
export function checkDataStore(dataStore: unknown): asserts dataStore is string {
  if (typeof dataStore !== 'string' || !isAbsolute(dataStore)) {
    throw new InvalidArgumentError(`dataStore must be an absolute path (see dataStorePath(address)); got ${JSON.stringify(dataStore)}`)
  }
}

/** nerdctl's max-size parser (go-units FromHumanSize): decimal multiples. Same rule as the logger's. */
export function parseHumanSize(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value.trim())
  if (m === null) return undefined
  const unit = ({ k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 } as Record<string, number>)[(m[2] ?? '').toLowerCase()] ?? 1
  return Math.floor(Number(m[1]) * unit)
}

function rotationOpts(options: JsonFileLogOptions): Record<string, string> {
  const opts: Record<string, string> = {}
  const { maxSize, maxFile } = options
  if (maxSize !== undefined) {
    const bytes = typeof maxSize === 'number' ? maxSize : parseHumanSize(String(maxSize))
    if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes <= 0) {
      throw new InvalidArgumentError(`maxSize ${JSON.stringify(maxSize)} must be a positive number of bytes or a size like '10m' or '512k'`)
    }
    opts['max-size'] = typeof maxSize === 'number' ? String(maxSize) : maxSize.trim()
  }
  if (maxFile !== undefined) {
    if (!Number.isSafeInteger(maxFile) || maxFile < 1) throw new InvalidArgumentError(`maxFile ${JSON.stringify(maxFile)} must be an integer ≥ 1`)
    if (maxSize === undefined && maxFile > 1) throw new InvalidArgumentError('maxFile needs maxSize: without a size limit the log never rotates')
    opts['max-file'] = String(maxFile)
  }
  return opts
}
