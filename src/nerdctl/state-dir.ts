/**
 * A container's nerdctl state dir, `<data store>/containers/<namespace>/<id>` (mode 0700): where nerdctl
 * keeps the files of one container that containerd does not: `hostname` (bind-mounted at /etc/hostname),
 * `lifecycle.json` (when the task last started), `network-config.json` (published ports), the json-file
 * log `<id>-json.log`, `log-config.json`, `resolv.conf`. The formats here are nerdctl's, so `nerdctl
 * inspect`/`ps` read what we write.
 */

import { readOptional } from '../util/optional-file.js'
import { chmod, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidArgumentError } from '../grpc/errors.js'
import type { SpecOption } from '../oci/spec-options.js'
import { toPortMappings, type PortMapping } from './labels.js'
import { ensureStoreDir, withDirLock, writeFileAtomic, type DirLockOptions } from './dir-lock.js'

/** File names inside a state dir, as nerdctl names them. */
export const StateFile = {
  /** The hostname file bind-mounted at /etc/hostname. */
  hostname: 'hostname',
  /** `{"started_at": RFC 3339 time, "create_error": bool}`. */
  lifecycle: 'lifecycle.json',
  /** `{"portMappings": [...]}` (field omitted when there are none). */
  networkConfig: 'network-config.json',
  /** The resolv.conf bind-mounted at /etc/resolv.conf (written by networking). */
  resolvConf: 'resolv.conf',
  /** The log driver's configuration, read by `nerdctl logs`. */
  logConfig: 'log-config.json',
} as const

/** Options of {@link createStateDir}. */
export interface CreateStateDirOptions {
  /** Writes the `hostname` file (`<hostname>\n`, mode 0644 so the container's users can read it). */
  hostname?: string
  /** Port mappings for `network-config.json`; nerdctl writes the file for every container. Default `[]`. */
  portMappings?: PortMapping[]
}

/**
 * Creates a container's state dir (and missing parents) with mode 0700 and writes `hostname` and
 * `network-config.json` the way nerdctl's `create` does. Not locked: the id is new, so nothing else
 * can be using the directory yet.
 * @throws InvalidArgumentError for a hostname with a newline.
 */
export async function createStateDir(stateDir: string, options: CreateStateDirOptions = {}): Promise<void> {
  if (options.hostname !== undefined && /[\n\r]/.test(options.hostname)) {
    throw new InvalidArgumentError(`hostname ${JSON.stringify(options.hostname)} contains a line break`)
  }
  await ensureStoreDir(stateDir)
  try {
    if (options.hostname !== undefined) {
      const path = join(stateDir, StateFile.hostname)
      await writeFile(path, `${options.hostname}\n`, { mode: 0o644 })
      // World-readable whatever the umask, as nerdctl does: processes in the container run as any user.
      await chmod(path, 0o644)
    }
    await writeFileAtomic(join(stateDir, StateFile.networkConfig), networkConfigJson(options.portMappings ?? []))
  } catch (err) {
    await rm(stateDir, { recursive: true, force: true })
    throw err
  }
}

/**
 * A spec option bind-mounting the state dir's `hostname` file at /etc/hostname (writable, `rprivate`),
 * as nerdctl does, so the file matches the container's hostname. Skipped when the spec already mounts
 * something there. Use it with {@link createStateDir}'s `hostname`.
 */
export function withHostnameFile(stateDir: string): SpecOption {
  const source = join(stateDir, StateFile.hostname)
  return (spec) => {
    const mounts = spec.mounts ?? []
    if (mounts.some((m) => m.destination === '/etc/hostname')) return
    spec.mounts = [...mounts, { destination: '/etc/hostname', type: 'bind', source, options: ['bind', 'rprivate'] }]
  }
}

/** Removes a container's state dir and everything in it (its log included); a missing dir is fine. */
export async function removeStateDir(stateDir: string): Promise<void> {
  await rm(stateDir, { recursive: true, force: true })
}

/** What `lifecycle.json` records. */
export interface Lifecycle {
  /** When the task last started (nerdctl sets it in its hook's createRuntime step); undefined before. */
  startedAt: Date | undefined
  /** Whether setting the container's network up failed at its last start. */
  createError: boolean
}

/**
 * Reads `lifecycle.json`. A missing (or half-written) file or state dir reads as never started. No lock:
 * our writes replace the file by rename, and taking the lock costs a process spawn, which `ps` would pay
 * once per container.
 */
export async function readLifecycle(stateDir: string): Promise<Lifecycle> {
  return loadLifecycle(stateDir)
}

/**
 * Records that the container's task started now (or at `at`), as nerdctl's hook does on createRuntime:
 * `inspect` shows it as `State.StartedAt`. Read-modify-write under the state dir's lock.
 */
export async function recordStarted(stateDir: string, at: Date = new Date(), options: DirLockOptions = {}): Promise<void> {
  await withDirLock(
    stateDir,
    async () => {
      const current = await loadLifecycle(stateDir)
      await saveLifecycle(stateDir, { ...current, startedAt: at, createError: false })
    },
    options,
  )
}

/** Port mappings recorded in the state dir's `network-config.json` (`[]` when there is none). */
export async function readNetworkConfig(stateDir: string): Promise<PortMapping[]> {
  const text = await readOptional(join(stateDir, StateFile.networkConfig))
  if (text === undefined) return []
  try {
    return toPortMappings((JSON.parse(text) as { portMappings?: unknown }).portMappings)
  } catch {
    return []
  }
}

/** Writes `network-config.json` under the state dir's lock (when ports change after creation). */
export async function writeNetworkConfig(stateDir: string, portMappings: PortMapping[], options: DirLockOptions = {}): Promise<void> {
  await withDirLock(stateDir, () => writeFileAtomic(join(stateDir, StateFile.networkConfig), networkConfigJson(portMappings)), options)
}

function networkConfigJson(portMappings: PortMapping[]): string {
  // Go: `PortMappings []cni.PortMapping json:"portMappings,omitempty"`, go-cni's fields untagged.
  return JSON.stringify(
    portMappings.length === 0
      ? {}
      : { portMappings: portMappings.map((p) => ({ HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol, HostIP: p.HostIP })) },
  )
}

async function loadLifecycle(stateDir: string): Promise<Lifecycle> {
  const text = await readOptional(join(stateDir, StateFile.lifecycle))
  if (text === undefined) return { startedAt: undefined, createError: false }
  let raw: { started_at?: unknown; create_error?: unknown }
  try {
    raw = JSON.parse(text) as typeof raw
  } catch {
    return { startedAt: undefined, createError: false }
  }
  const started = typeof raw.started_at === 'string' ? new Date(raw.started_at) : undefined
  // Go writes its zero time (year 1) when nothing was recorded.
  const valid = started !== undefined && !Number.isNaN(started.getTime()) && started.getUTCFullYear() > 1
  return { startedAt: valid ? started : undefined, createError: raw.create_error === true }
}

async function saveLifecycle(stateDir: string, lifecycle: Lifecycle): Promise<void> {
  const json = JSON.stringify({
    started_at: lifecycle.startedAt?.toISOString() ?? '0001-01-01T00:00:00Z',
    create_error: lifecycle.createError,
  })
  await writeFileAtomic(join(stateDir, StateFile.lifecycle), json)
}

