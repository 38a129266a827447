/**
 * `ps`-style rows (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES) computed the way
 * `nerdctl ps` does, so a CLI built on the SDK prints what nerdctl and Docker users expect. One addition
 * over nerdctl: a running container's status says how long it has been up (`Up 5 seconds`, as Docker
 * does) when its start time is recorded in the state dir; nerdctl prints a bare `Up`.
 */

import type { ClientCore } from '../client/client.js'
import { Limiter } from '../util/limiter.js'
import { NotFoundError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import type { Spec } from '../oci/runtime-spec.js'
import { shortContainerId } from '../nerdctl/container-id.js'
import { dockerStatus, type DockerContainerStatus } from './container-inspect.js'
import { readContainerSnapshot, type ContainerSnapshot } from './container-state.js'
import { NerdctlLabel, type PortMapping } from '../nerdctl/labels.js'

/** One row of `ps`. */
export interface ContainerRow {
  /** The id: 12 characters, or all 64 without truncation. */
  ID: string
  /** The image name. */
  Image: string
  /** The command, quoted; cut to 20 characters with `…` when truncating. */
  Command: string
  /** When the container was created. */
  CreatedAt: Date
  /** How long ago it was created: `5 seconds ago`, `About an hour ago`. */
  Created: string
  /** `Created`, `Up`, `Up 3 minutes`, `Exited (0) 2 seconds ago`, `Restarting (1) …`, `Paused`. */
  Status: string
  /** Docker's state name, for filtering. */
  State: DockerContainerStatus
  /** Published ports: `0.0.0.0:8080->80/tcp, 127.0.0.1:9000-9001->9000-9001/udp`. */
  Ports: string
  /** The nerdctl name. */
  Names: string
  /** The runtime (a nerdctl extension). */
  Runtime: string
  /** The platform label (a nerdctl extension). */
  Platform: string
  /** All labels. */
  Labels: Record<string, string>
}

/** How `ps` rows are formatted (see `client.containers.ps()`). */
export interface ContainerRowOptions {
  /** Shorten the id and command, as `ps` does unless `--no-trunc`. Default true. */
  truncate?: boolean
  /** The time durations are measured to. Default: now. */
  now?: Date
}

/** Options of `client.containers.ps()`. */
export interface ListContainerRowsOptions extends CallOptions, ContainerRowOptions {
  /** Include containers that are not running (`ps -a`). Default false: only `Up` ones, like `ps`. */
  all?: boolean
}

/** The `ps` row of a container snapshot (see `readContainerSnapshot`). */
export function buildContainerRow(snapshot: ContainerSnapshot, options: ContainerRowOptions = {}): ContainerRow {
  const truncate = options.truncate ?? true
  const now = options.now ?? new Date()
  const { info, task } = snapshot
  const state = dockerStatus(info.labels, task)
  const createdAt = info.createdAt ?? new Date(0)
  return {
    ID: truncate ? shortContainerId(info.id) : info.id,
    Image: info.image,
    Command: containerCommand(snapshot.spec as Partial<Spec>, truncate),
    CreatedAt: createdAt,
    Created: timeSince(createdAt, now),
    Status: statusText(snapshot, state, now),
    State: state,
    Ports: formatPorts(snapshot.ports),
    Names: info.labels[NerdctlLabel.name] ?? '',
    Runtime: info.runtime,
    Platform: info.labels[NerdctlLabel.platform] ?? '',
    Labels: { ...info.labels },
  }
}

/**
 * The `ps` rows of the client's namespace, newest first; only running containers unless `all`.
 * Containers deleted while listing are skipped.
 */
export async function listContainerRows(client: ClientCore, options: ListContainerRowsOptions = {}): Promise<ContainerRow[]> {
  const { containers } = await client.services.containers.list({}, options)
  // Bounded: each snapshot is a task lookup plus a few small file reads.
  const limiter = new Limiter(16)
  const snapshots = await Promise.all(
    containers.map((c) =>
      limiter.run(() => readContainerSnapshot(client, c.id, options, c)).catch((err: unknown) => {
        if (err instanceof NotFoundError) return undefined
        throw err
      }),
    ),
  )
  const rows = snapshots
    .filter((s): s is ContainerSnapshot => s !== undefined)
    .map((s) => buildContainerRow(s, options))
    .filter((row) => options.all === true || row.Status.startsWith('Up'))
  return rows.sort((a, b) => b.CreatedAt.getTime() - a.CreatedAt.getTime())
}

/** The command column: the spec's arguments joined by spaces, cut to 20 characters, quoted. */
export function containerCommand(spec: Partial<Spec>, truncate = true): string {
  const process = spec.process
  if (process === undefined) return ''
  const command = (process.commandLine ?? '') + (process.args ?? []).join(' ')
  return JSON.stringify(truncate ? ellipsis(command, 20) : command)
}

/** Cuts `text` to `width` characters (code points), the last one replaced by `…` when cut. */
export function ellipsis(text: string, width: number): string {
  if (width <= 0) return ''
  const chars = [...text]
  if (chars.length <= width) return text
  if (width === 1) return chars[0] ?? ''
  return chars.slice(0, width - 1).join('') + '…'
}

/**
 * Published ports as `ps` prints them: grouped by host address and protocol, runs of consecutive ports
 * merged into ranges (`0.0.0.0:8080-8081->80-81/tcp`), groups sorted and joined with `, `.
 */
export function formatPorts(ports: readonly PortMapping[]): string {
  const groups = new Map<string, PortMapping[]>()
  for (const p of ports) {
    const key = `${p.HostIP}\u0000${p.Protocol || 'tcp'}`
    groups.set(key, [...(groups.get(key) ?? []), p])
  }
  const shown: string[] = []
  for (const [key, members] of groups) {
    const [hostIp, protocol] = key.split('\u0000') as [string, string]
    const sorted = [...members].sort((a, b) => a.HostPort - b.HostPort)
    for (let i = 0; i < sorted.length; i++) {
      const start = sorted[i] as PortMapping
      let end = start
      while (i + 1 < sorted.length) {
        const next = sorted[i + 1] as PortMapping
        if (next.HostPort !== end.HostPort + 1 || next.ContainerPort !== end.ContainerPort + 1) break
        end = next
        i++
      }
      const range =
        start === end ? `${start.HostPort}->${start.ContainerPort}` : `${start.HostPort}-${end.HostPort}->${start.ContainerPort}-${end.ContainerPort}`
      // Each range carries its address and protocol, as Docker prints them.
      shown.push(`${hostIp}:${range}/${protocol}`)
    }
  }
  return shown.sort().join(', ')
}

/**
 * A duration the way Docker's `units.HumanDuration` words it: `Less than a second`, `1 second`,
 * `5 seconds`, `About a minute`, `3 minutes`, `About an hour`, `5 hours`, `3 days`, `2 weeks`,
 * `4 months`, `2 years`.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000)
  if (seconds < 1) return 'Less than a second'
  if (seconds === 1) return '1 second'
  if (seconds < 60) return `${seconds} seconds`
  const minutes = Math.trunc(ms / 60_000)
  if (minutes === 1) return 'About a minute'
  if (minutes < 60) return `${minutes} minutes`
  const hours = Math.trunc(ms / 3_600_000 + 0.5)
  if (hours === 1) return 'About an hour'
  if (hours < 48) return `${hours} hours`
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`
}

/** `<humanDuration> ago`. */
export function timeSince(when: Date, now: Date = new Date()): string {
  return `${humanDuration(now.getTime() - when.getTime())} ago`
}

function statusText(snapshot: ContainerSnapshot, state: DockerContainerStatus, now: Date): string {
  const task = snapshot.task
  switch (state) {
    case 'created':
      return 'Created'
    case 'running':
      return snapshot.startedAt === undefined ? 'Up' : `Up ${humanDuration(now.getTime() - snapshot.startedAt.getTime())}`
    case 'paused':
      return 'Paused'
    case 'exited':
    case 'restarting': {
      const word = state === 'exited' ? 'Exited' : 'Restarting'
      const exitedAt = task?.exitedAt ?? now
      return `${word} (${task?.exitStatus ?? 0}) ${timeSince(exitedAt, now)}`
    }
    default:
      return 'Unknown'
  }
}
