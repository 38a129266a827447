/**
 * The ADD result cache, in libcni's layout and format so that nerdctl, cnitool and CRI runtimes see
 * our attachments and we see theirs: `<cacheDir>/results/<network>-<containerId>-<ifName>` holding
 * `{"kind":"cniCacheV1", containerId, config, ifName, networkName, netns, cniArgs, capabilityArgs, result}`.
 * DEL and CHECK give the cached result to plugins as `prevResult` (spec 0.4.0 and later).
 */

import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { CniRuntime } from './cni-options.js'
import { isObject, parseCniResult, type CniResult } from './cni-result.js'
import { compareCniVersions } from './cni-version.js'
import type { NetworkConfigList } from './network-config.js'

/** The `kind` of libcni's cache files. */
export const CNI_CACHE_KIND = 'cniCacheV1'

/** A cache file's content (libcni's `cachedInfo`). */
export interface CniCacheEntry {
  /** Always `cniCacheV1`. */
  kind: typeof CNI_CACHE_KIND
  /** The container id. */
  containerId: string
  /** The network configuration list's JSON bytes, base64 (Go's encoding of a `[]byte`). */
  config: string
  /** The interface name. */
  ifName: string
  /** The network name. */
  networkName: string
  /** The netns path the ADD ran in (libcni 1.2 and later write it; GC uses it). */
  netns?: string
  /** The CNI_ARGS pairs of the ADD. */
  cniArgs?: Array<[string, string]>
  /** The capability arguments of the ADD. */
  capabilityArgs?: Record<string, unknown>
  /** The chain's ADD result. */
  result?: Record<string, unknown>
}

/** The cache file of one attachment: `<cacheDir>/results/<networkName>-<containerId>-<ifName>`. */
export function cacheFilePath(cacheDir: string, networkName: string, containerId: string, ifName: string): string {
  return join(cacheDir, 'results', `${networkName}-${containerId}-${ifName}`)
}

/** The cache entry for a successful ADD of `list` with `runtime`. */
export function cacheEntry(list: NetworkConfigList, runtime: CniRuntime, result: CniResult): CniCacheEntry {
  const entry: CniCacheEntry = {
    kind: CNI_CACHE_KIND,
    containerId: runtime.containerId,
    config: Buffer.from(JSON.stringify(list)).toString('base64'),
    ifName: runtime.ifName,
    networkName: list.name,
  }
  // libcni omits empty fields (Go `omitempty`); so do we, so files compare equal.
  if (runtime.netns !== '') entry.netns = runtime.netns
  if (runtime.args !== undefined && runtime.args.length > 0) entry.cniArgs = runtime.args.map(([k, v]) => [k, v])
  if (runtime.capabilityArgs !== undefined && Object.keys(runtime.capabilityArgs).length > 0) entry.capabilityArgs = { ...runtime.capabilityArgs }
  entry.result = result
  return entry
}

/**
 * Writes the cache file after a successful ADD: to a temporary file first, synced, then renamed over
 * the final name, so a reader (or a crash) never sees half a file. Directories 0700 and file 0600, as
 * libcni makes them: the configuration may hold credentials.
 */
export async function writeCacheEntry(cacheDir: string, entry: CniCacheEntry): Promise<void> {
  const path = cacheFilePath(cacheDir, entry.networkName, entry.containerId, entry.ifName)
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    const file = await open(temp, 'wx', 0o600)
    try {
      await file.writeFile(JSON.stringify(entry))
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}

/** Removes an attachment's cache file; a missing one is fine (DEL is idempotent). */
export async function removeCacheEntry(cacheDir: string, networkName: string, runtime: Pick<CniRuntime, 'containerId' | 'ifName'>): Promise<void> {
  await rm(cacheFilePath(cacheDir, networkName, runtime.containerId, runtime.ifName), { force: true })
}

/** What the cache holds about one attachment. */
export interface CachedAttachment {
  /** The chain's ADD result, converted to the requested spec version when one was given. */
  result: CniResult
  /** The configuration list the ADD ran (undefined when the file's `config` does not decode to one). */
  config: NetworkConfigList | undefined
  /** The netns path of the ADD, when the writer recorded it. */
  netns: string | undefined
  /** The CNI_ARGS of the ADD. */
  cniArgs: Array<[string, string]> | undefined
  /** The capability arguments of the ADD. */
  capabilityArgs: Record<string, unknown> | undefined
}

/**
 * Reads an attachment's cache file.
 * @param cniVersion the spec version to convert the result to (as libcni does, so a list whose version
 *   changed while the container ran still gets a `prevResult` it reads); undefined to keep the cached one.
 * @returns undefined when there is no cache file, or it is unreadable or malformed: DEL then runs
 *   without a `prevResult`, which every plugin must accept.
 */
export async function readCacheEntry(cacheDir: string, networkName: string, runtime: Pick<CniRuntime, 'containerId' | 'ifName'>, cniVersion?: string): Promise<CachedAttachment | undefined> {
  let text: string
  try {
    text = await readFile(cacheFilePath(cacheDir, networkName, runtime.containerId, runtime.ifName), 'utf8')
  } catch {
    return undefined
  }
  return parseCacheFile(text, cniVersion)
}

/** Reads an attachment's cached ADD result, converted to `cniVersion` (see {@link readCacheEntry}). */
export async function readCachedResult(cacheDir: string, networkName: string, cniVersion: string, runtime: Pick<CniRuntime, 'containerId' | 'ifName'>): Promise<CniResult | undefined> {
  return (await readCacheEntry(cacheDir, networkName, runtime, cniVersion))?.result
}

/**
 * The attachment a cache file's text describes: a `cniCacheV1` entry, or (libcni before 0.8 wrote the
 * bare result) a whole file that is a result.
 * @param cniVersion the version to convert the result to, or undefined to keep it.
 */
export function parseCacheFile(text: string, cniVersion?: string): CachedAttachment | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObject(value)) return undefined
  const v1 = value['kind'] === CNI_CACHE_KIND
  const parsed = parseCniResult(v1 ? value['result'] : value)
  if (!('result' in parsed)) return undefined
  const result = cniVersion === undefined ? parsed.result : convertResult(parsed.result, cniVersion)
  if (!v1) return { result, config: undefined, netns: undefined, cniArgs: undefined, capabilityArgs: undefined }
  const { netns, cniArgs, capabilityArgs } = value
  return {
    result,
    config: decodeConfig(value['config']),
    netns: typeof netns === 'string' && netns !== '' ? netns : undefined,
    cniArgs: Array.isArray(cniArgs) && cniArgs.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'string')) ? (cniArgs as Array<[string, string]>) : undefined,
    capabilityArgs: isObject(capabilityArgs) ? capabilityArgs : undefined,
  }
}

// The list the ADD ran, from the base64 `config`: kept only when it has a list's shape.
function decodeConfig(config: unknown): NetworkConfigList | undefined {
  if (typeof config !== 'string') return undefined
  try {
    const value: unknown = JSON.parse(Buffer.from(config, 'base64').toString('utf8'))
    if (isObject(value) && typeof value['name'] === 'string' && typeof value['cniVersion'] === 'string' && Array.isArray(value['plugins'])) return value as NetworkConfigList
  } catch {
    // Not JSON: no config to offer.
  }
  return undefined
}

/**
 * `result` rewritten for spec `cniVersion` between 0.3.0 and 1.x: 1.0.0 dropped `ips[].version`,
 * which 0.3.x and 0.4.0 require. Other versions are returned unchanged.
 */
export function convertResult(result: CniResult, cniVersion: string): CniResult {
  if (result.cniVersion === cniVersion) return result
  const fromOk = (compareCniVersions(result.cniVersion, '0.3.0') ?? -1) >= 0
  const toOk = (compareCniVersions(cniVersion, '0.3.0') ?? -1) >= 0
  if (!fromOk || !toOk) return result
  const legacy = (compareCniVersions(cniVersion, '1.0.0') ?? 0) < 0
  const converted: CniResult = { ...result, cniVersion }
  if (result.ips !== undefined) {
    converted.ips = result.ips.map((ip) => {
      const { version: _version, ...rest } = ip
      return legacy ? { ...rest, version: ip.address.includes(':') ? '6' : '4' } : rest
    })
  }
  return converted
}
