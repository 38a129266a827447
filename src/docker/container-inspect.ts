/**
 * `docker inspect`-shaped JSON for a container, computed the way nerdctl's `dockercompat` package does
 * from the container record, its spec, its task and its state dir, so tools that parse `docker inspect`
 * or `nerdctl inspect` output can parse ours. Where nerdctl and Docker differ we follow nerdctl, since
 * both must agree on our containers: `Name` has no leading `/`, `HostConfig.LogConfig` is nerdctl's
 * `{driver, opts, address}`, `Platform` is the OS only. Unset times are Docker's zero time.
 */

import type { NetworkAttachment } from '../client/network-provider.js'
import { inspectContainerNetwork } from '../network/container-network.js'
import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'
import type { Mount, Spec } from '../oci/runtime-spec.js'
import { readContainerSnapshot, type ContainerSnapshot, type TaskState } from './container-state.js'
import { readRestartState, RESTART_LABELS } from '../containers/restart-policy.js'
import { NerdctlLabel, readMountLabels, type MountPoint, type NerdctlLogConfig, type PortMapping } from '../nerdctl/labels.js'

/** Docker's zero time, shown for a time that never happened (not started, not finished). */
export const ZERO_TIME = '0001-01-01T00:00:00Z'

/** Docker's container states (`State.Status`), plus `unknown` when containerd cannot tell. */
export type DockerContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'unknown'

/** `State` of `docker inspect`. */
export interface ContainerInspectState {
  /** created, running, paused, restarting, exited. */
  Status: DockerContainerStatus
  /** The task is running. */
  Running: boolean
  /** The task is paused. */
  Paused: boolean
  /** The restart monitor wants it running (it may be between restarts). */
  Restarting: boolean
  /** The init process's pid, 0 when not running. */
  Pid: number
  /** The last exit code (0 before any exit). */
  ExitCode: number
  /** An error nerdctl recorded, `''` otherwise. */
  Error: string
  /** When the task last started (RFC 3339), {@link ZERO_TIME} if never. */
  StartedAt: string
  /** When the task last exited (RFC 3339), {@link ZERO_TIME} if it has not. */
  FinishedAt: string
}

/** One host binding of a published port. */
export interface PortBinding {
  /** Host address. */
  HostIp: string
  /** Host port, as a string (Docker's format). */
  HostPort: string
}

/** `HostConfig` of `docker inspect` (the subset containerd and nerdctl record). */
export interface ContainerInspectHostConfig {
  /** The `--cidfile` path, `''` when none. */
  ContainerIDFile: string
  /** Logging configuration. */
  LogConfig: NerdctlLogConfig
  /** The first network mode (`bridge`, `host`, `none`, …). */
  NetworkMode: string
  /** Published ports by `port/proto`. */
  PortBindings: Record<string, PortBinding[]>
  /** Restart policy (`no` when none). */
  RestartPolicy: { Name: string; MaximumRetryCount: number }
  /** Removed when it exits (`--rm`). */
  AutoRemove: boolean
  /** Extra /etc/hosts entries. */
  ExtraHosts: string[]
  /** Privileged. */
  Privileged: boolean
  /** Read-only root filesystem. */
  ReadonlyRootfs: boolean
  /** The containerd runtime. */
  Runtime: string
  /** Memory limit in bytes (0 = none). */
  Memory: number
  /** Memory + swap limit in bytes (0 = none). */
  MemorySwap: number
  /** Memory soft limit in bytes (0 = none). */
  MemoryReservation: number
  /** Pids limit (0 = none). */
  PidsLimit: number
  /** CPU shares. */
  CpuShares: number
  /** CFS quota in microseconds. */
  CpuQuota: number
  /** CFS period in microseconds. */
  CpuPeriod: number
  /** CPUs allowed. */
  CpusetCpus: string
  /** Memory nodes allowed. */
  CpusetMems: string
  /** OOM score adjustment. */
  OomScoreAdj: number
  /** Namespaced sysctls. */
  Sysctls: Record<string, string>
  /** tmpfs mounts by destination. */
  Tmpfs: Record<string, string>
  /** User annotations (nerdctl's own are left out), when there are any. */
  Annotations?: Record<string, string>
}

/** `Config` of `docker inspect`. */
export interface ContainerInspectConfig {
  /** Hostname. */
  Hostname: string
  /** NIS domain name, when set. */
  Domainname?: string
  /** User, when set. */
  User?: string
  /** Always false: stdin attachment is not recorded. */
  AttachStdin: boolean
  /** Exposed ports, when recorded. */
  ExposedPorts?: Record<string, Record<string, never>>
  /** The process environment. */
  Env: string[]
  /** The process arguments (entrypoint and command as merged into the spec). */
  Cmd: string[]
  /** The image name. */
  Image: string
  /** Working directory. */
  WorkingDir: string
  /** All labels of the container. */
  Labels: Record<string, string>
}

/** The `docker inspect` object for a container. */
export interface ContainerInspect {
  /** Full id. */
  Id: string
  /** Creation time (RFC 3339). */
  Created: string
  /** The executable (`args[0]`). */
  Path: string
  /** The remaining arguments. */
  Args: string[]
  /** Run state. */
  State: ContainerInspectState
  /** Image name. */
  Image: string
  /** `<state dir>/resolv.conf` when it exists, else the /etc/resolv.conf bind mount source, else `''`. */
  ResolvConfPath: string
  /** `<state dir>/hostname` when it exists, else the /etc/hostname bind mount source, else `''`. */
  HostnamePath: string
  /** `<state dir>/hosts` when it exists, else the /etc/hosts bind mount source, else `''`. */
  HostsPath: string
  /** The json-file log when it exists, else `''`. */
  LogPath: string
  /** The nerdctl name (no leading `/`, as nerdctl shows it). */
  Name: string
  /** Restarts done by the restart monitor. */
  RestartCount: number
  /** The snapshotter. */
  Driver: string
  /** The OS (`linux`), as Docker reports it. */
  Platform: string
  /** AppArmor profile, `''` when none. */
  AppArmorProfile: string
  /** Host-side configuration. */
  HostConfig: ContainerInspectHostConfig
  /** Mounts: nerdctl's recorded mount points, else the spec's bind mounts. */
  Mounts: MountPoint[]
  /** Container configuration. */
  Config: ContainerInspectConfig
  /** Network settings: published ports, and the addresses of a container the SDK attached. */
  NetworkSettings: ContainerNetworkSettings
}

/** One network's settings in `inspect` (Docker's `EndpointSettings`, the fields nerdctl fills). */
export interface EndpointSettings {
  /** IPv4 address, `''` when none. */
  IPAddress: string
  /** IPv4 prefix length, 0 when none. */
  IPPrefixLen: number
  /** IPv4 gateway, `''` when none. */
  Gateway: string
  /** IPv6 address, `''` when none. */
  GlobalIPv6Address: string
  /** IPv6 prefix length, 0 when none. */
  GlobalIPv6PrefixLen: number
  /** IPv6 gateway, `''` when none. */
  IPv6Gateway: string
  /** MAC address, `''` when unknown. */
  MacAddress: string
}

/**
 * `inspect`'s `NetworkSettings`: the first network's addresses at the top (as Docker shows them), every
 * network by name in `Networks` (interfaces in order: `eth0` first), and the published ports.
 */
export interface ContainerNetworkSettings extends EndpointSettings {
  /** Published ports, keyed `port/proto`. */
  Ports: Record<string, PortBinding[]>
  /** The networks the container is attached to now, by name; empty when it is not attached. */
  Networks: Record<string, EndpointSettings>
}

/**
 * Docker's state for a container. No task means `created` (as `nerdctl ps` says); a stopped task is
 * `exited`, or `restarting` when the restart monitor will start it again.
 */
export function dockerStatus(labels: Readonly<Record<string, string>>, task: TaskState | undefined): DockerContainerStatus {
  if (task === undefined) return 'created'
  switch (task.status) {
    case 'created':
      return 'created'
    case 'running':
      return 'running'
    case 'paused':
    case 'pausing':
      return 'paused'
    case 'stopped':
      return willRestart(labels, task) ? 'restarting' : 'exited'
    default:
      return 'unknown'
  }
}

/**
 * The `docker inspect` object of a container, read fresh (record, spec, task, state dir).
 * @throws NotFoundError when there is no container with that id.
 */
export async function inspectContainer(client: ClientCore, id: string, options?: CallOptions): Promise<ContainerInspect> {
  const snapshot = await readContainerSnapshot(client, id, options)
  return buildContainerInspect(snapshot, await inspectContainerNetwork(client, id, snapshot.info.labels))
}

/**
 * Builds the `docker inspect` object from a container snapshot (see `readContainerSnapshot`) and the
 * network attachments the SDK's provider reports.
 */
export function buildContainerInspect(snapshot: ContainerSnapshot, attachments: readonly NetworkAttachment[] = []): ContainerInspect {
  const { info, task } = snapshot
  const spec = snapshot.spec as Partial<Spec>
  const labels = info.labels
  const args = spec.process?.args ?? []
  const bindMounts = (spec.mounts ?? []).filter((m) => m.type === 'bind').map(toMountPoint)
  const recorded = readMountLabels(labels)
  const mounts = recorded.length > 0 ? recorded : bindMounts
  const mountSource = (destination: string): string => bindMounts.find((m) => m.Destination === destination)?.Source ?? ''
  const status = dockerStatus(labels, task)
  const resources = spec.linux?.resources
  const hostname = labels[NerdctlLabel.hostname] || spec.hostname || ''
  const ports = portMap(snapshot.ports)
  const userAnnotations = Object.fromEntries(Object.entries(spec.annotations ?? {}).filter(([k]) => !k.startsWith('nerdctl/')))

  const config: ContainerInspectConfig = {
    Hostname: hostname,
    AttachStdin: false,
    Env: spec.process?.env ?? [],
    Cmd: args,
    Image: info.image,
    WorkingDir: spec.process?.cwd ?? '',
    Labels: { ...labels },
  }
  const domainname = labels[NerdctlLabel.domainname]
  if (domainname !== undefined && domainname !== '') config.Domainname = domainname
  const user = labels[NerdctlLabel.user]
  if (user !== undefined && user !== '') config.User = user
  const exposed = parseJson<Record<string, Record<string, never>> | undefined>(labels[NerdctlLabel.exposedPorts], undefined)
  if (exposed !== undefined) config.ExposedPorts = exposed

  const hostConfig: ContainerInspectHostConfig = {
    ContainerIDFile: parseJson<{ CidFile?: string }>(labels[NerdctlLabel.hostConfig], {}).CidFile ?? '',
    LogConfig: parseJson<NerdctlLogConfig>(labels[NerdctlLabel.logConfig], { driver: 'json-file', opts: {} }),
    NetworkMode: parseJson<string[]>(labels[NerdctlLabel.networks], [])[0] ?? '',
    PortBindings: ports,
    RestartPolicy: restartPolicy(labels),
    AutoRemove: labels[NerdctlLabel.autoRemove] === 'true',
    ExtraHosts: parseJson<string[] | null>(labels[NerdctlLabel.extraHosts], null) ?? [],
    Privileged: labels[NerdctlLabel.privileged] === 'true',
    ReadonlyRootfs: spec.root?.readonly === true,
    Runtime: info.runtime,
    Memory: resources?.memory?.limit ?? 0,
    MemorySwap: resources?.memory?.swap ?? 0,
    MemoryReservation: resources?.memory?.reservation ?? 0,
    PidsLimit: resources?.pids?.limit ?? 0,
    CpuShares: resources?.cpu?.shares ?? 0,
    CpuQuota: resources?.cpu?.quota ?? 0,
    CpuPeriod: resources?.cpu?.period ?? 0,
    CpusetCpus: resources?.cpu?.cpus ?? '',
    CpusetMems: resources?.cpu?.mems ?? '',
    OomScoreAdj: spec.process?.oomScoreAdj ?? 0,
    Sysctls: { ...(spec.linux?.sysctl ?? {}) },
    Tmpfs: Object.fromEntries(mounts.filter((m) => m.Type === 'tmpfs').map((m) => [m.Destination, m.Mode])),
  }
  if (Object.keys(userAnnotations).length > 0) hostConfig.Annotations = userAnnotations

  const running = task?.status === 'running'
  return {
    Id: info.id,
    Created: info.createdAt?.toISOString() ?? ZERO_TIME,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: status,
      Running: running,
      Paused: status === 'paused',
      Restarting: status === 'restarting',
      Pid: running || status === 'paused' ? (task?.pid ?? 0) : 0,
      ExitCode: task?.status === 'stopped' ? task.exitStatus : 0,
      Error: labels[NerdctlLabel.error] ?? '',
      StartedAt: snapshot.startedAt?.toISOString() ?? ZERO_TIME,
      FinishedAt: task?.status === 'stopped' && task.exitedAt !== undefined ? task.exitedAt.toISOString() : ZERO_TIME,
    },
    Image: info.image,
    ResolvConfPath: snapshot.files.resolvConfPath ?? mountSource('/etc/resolv.conf'),
    HostnamePath: snapshot.files.hostnamePath ?? mountSource('/etc/hostname'),
    HostsPath: snapshot.files.hostsPath ?? mountSource('/etc/hosts'),
    LogPath: snapshot.files.logPath ?? '',
    Name: labels[NerdctlLabel.name] ?? '',
    RestartCount: labels[RESTART_LABELS.status] === 'running' ? Number.parseInt(labels[RESTART_LABELS.count] ?? '0', 10) || 0 : 0,
    Driver: info.snapshotter,
    Platform: 'linux',
    AppArmorProfile: spec.process?.apparmorProfile ?? '',
    HostConfig: hostConfig,
    Mounts: mounts,
    Config: config,
    NetworkSettings: networkSettings(ports, attachments),
  }
}

const NO_ENDPOINT: EndpointSettings = { IPAddress: '', IPPrefixLen: 0, Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, IPv6Gateway: '', MacAddress: '' }

function endpointOf(a: NetworkAttachment): EndpointSettings {
  return {
    IPAddress: a.ipAddress ?? '',
    IPPrefixLen: a.ipPrefixLength ?? 0,
    Gateway: a.gateway ?? '',
    GlobalIPv6Address: a.globalIPv6Address ?? '',
    GlobalIPv6PrefixLen: a.globalIPv6PrefixLength ?? 0,
    IPv6Gateway: a.ipv6Gateway ?? '',
    MacAddress: a.macAddress ?? '',
  }
}

function networkSettings(ports: Record<string, PortBinding[]>, attachments: readonly NetworkAttachment[]): ContainerNetworkSettings {
  const first = attachments[0]
  return {
    ...(first !== undefined ? endpointOf(first) : NO_ENDPOINT),
    Ports: { ...ports },
    Networks: Object.fromEntries(attachments.map((a) => [a.network, endpointOf(a)])),
  }
}

/** Published ports keyed Docker's way: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`. */
export function portMap(ports: readonly PortMapping[]): Record<string, PortBinding[]> {
  const map: Record<string, PortBinding[]> = {}
  for (const p of ports) {
    const key = `${p.ContainerPort}/${(p.Protocol || 'tcp').toLowerCase()}`
    ;(map[key] ??= []).push({ HostIp: p.HostIP, HostPort: String(p.HostPort) })
  }
  return map
}

/** The restart policy from containerd's restart labels (an empty policy label is `always`, as containerd reads it), else `no`. */
export function restartPolicy(labels: Readonly<Record<string, string>>): { Name: string; MaximumRetryCount: number } {
  const policy = readRestartState({ ...labels })?.policy
  return { Name: policy?.name ?? 'no', MaximumRetryCount: policy?.maxRetries ?? 0 }
}

/** Whether containerd's restart monitor will start a stopped task again (its `Reconcile` rule). */
function willRestart(labels: Readonly<Record<string, string>>, task: TaskState): boolean {
  const state = readRestartState({ ...labels })
  if (state?.status !== 'running') return false
  switch (state.policy.name) {
    case 'always':
      return true
    case 'unless-stopped':
      return !state.explicitlyStopped
    case 'on-failure':
      return task.exitStatus !== 0 && (state.policy.maxRetries === 0 || state.count < state.policy.maxRetries)
    default:
      return false
  }
}

function toMountPoint(m: Mount): MountPoint {
  const options = m.options ?? []
  let rw = true
  let propagation = ''
  for (const o of options) {
    if (o === 'ro' || o === 'rro') rw = false
    else if (['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'].includes(o)) propagation = o
  }
  return { Type: 'bind', Source: m.source ?? '', Destination: m.destination, Mode: options.join(','), RW: rw, Propagation: propagation }
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (text === undefined || text === '') return fallback
  try {
    return JSON.parse(text) as T
  } catch {
    return fallback
  }
}
