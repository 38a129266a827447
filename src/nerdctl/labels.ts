/**
 * The `nerdctl/*` labels nerdctl puts on every container it creates, so `nerdctl ps`, `inspect`, `logs`
 * and its OCI hook treat our containers as their own. Keys and value formats are nerdctl's
 * (`pkg/labels/labels.go`, `pkg/cmd/container/create.go`); JSON values are written in Go's field order.
 * nerdctl also copies each of them into the OCI spec's annotations, because its hook only sees the spec.
 */

import type { PortMapping } from '../client/network-provider.js'
import { InvalidArgumentError } from '../grpc/errors.js'
import { parseReference } from '../image-spec/reference.js'
import { formatPlatform, hostPlatform, parsePlatform } from '../image-spec/platform.js'
import type { SpecOption } from '../oci/spec-options.js'
import { shortContainerId } from './container-id.js'

/** The prefix of nerdctl's own labels; nerdctl refuses user labels that start with it. */
export const NERDCTL_LABEL_PREFIX = 'nerdctl/'

/** nerdctl's label keys (the ones this SDK writes or reads). */
export const NerdctlLabel = {
  /** The containerd namespace (required by `nerdctl logs` and the hook). */
  namespace: 'nerdctl/namespace',
  /** The container name shown by `ps` and `inspect`. */
  name: 'nerdctl/name',
  /** The hostname. */
  hostname: 'nerdctl/hostname',
  /** The NIS domain name, `''` when unset. */
  domainname: 'nerdctl/domainname',
  /** JSON `["host:ip", …]`, always written. */
  extraHosts: 'nerdctl/extraHosts',
  /** `<data store>/containers/<namespace>/<id>`. */
  stateDir: 'nerdctl/state-dir',
  /** JSON `["bridge"]`, `["host"]`, `["none"]`, … */
  networks: 'nerdctl/networks',
  /** Legacy JSON port mappings (`network-config.json` in the state dir is the current place). */
  ports: 'nerdctl/ports',
  /** The `binary://` or `file://` URI the task's output goes to. */
  logUri: 'nerdctl/log-uri',
  /** JSON `{"driver","opts","address"}`. */
  logConfig: 'nerdctl/log-config',
  /** JSON list of anonymous volume names, removed with the container. */
  anonymousVolumes: 'nerdctl/anonymous-volumes',
  /** `os/arch[/variant]`. */
  platform: 'nerdctl/platform',
  /** Legacy single-label JSON list of mount points; {@link mountLabels} writes `nerdctl/mounts.<N>`. */
  mounts: 'nerdctl/mounts',
  /** Seconds to wait after the stop signal, when set. */
  stopTimeout: 'nerdctl/stop-timeout',
  /** `"true"` when run with `--rm`, else `"false"`. */
  autoRemove: 'nerdctl/auto-remove',
  /** JSON `{"BlkioWeight","CidFile","Devices"}`. */
  hostConfig: 'nerdctl/host-config',
  /** JSON `{"DNSServers","DNSResolvConfOptions","DNSSearchDomains"}`. */
  dns: 'nerdctl/dns',
  /** The user the process runs as, as given. */
  user: 'nerdctl/user',
  /** `"true"` for privileged containers. */
  privileged: 'nerdctl/privileged',
  /** JSON `{"80/tcp":{}}`. */
  exposedPorts: 'nerdctl/exposed-ports',
  /** An error recorded by nerdctl (shown as `State.Error`). */
  error: 'nerdctl/error',
} as const

/** containerd's cap on one label: key and value together (`labels.Validate`). */
export const MAX_LABEL_SIZE = 4096

/** A published port (nerdctl's `nerdctl/ports` label and `network-config.json` entries). */
export type { PortMapping } from '../client/network-provider.js'

/** A mount as `inspect` reports it (Docker's `MountPoint`), stored in `nerdctl/mounts.<N>`. */
export interface MountPoint {
  /** `bind`, `volume` or `tmpfs`. */
  Type?: string
  /** Volume name (volumes only). */
  Name?: string
  /** Host path or volume data dir. */
  Source: string
  /** Path in the container. */
  Destination: string
  /** `local` for volumes. */
  Driver?: string
  /** Options as given, e.g. `ro` or `rw,rprivate`. */
  Mode: string
  /** Whether it is writable. */
  RW: boolean
  /** Propagation, e.g. `rprivate`. */
  Propagation: string
}

/** The log config nerdctl records (`nerdctl/log-config`, `log-config.json`). */
export interface NerdctlLogConfig {
  /** Driver name, e.g. `json-file`. */
  driver: string
  /** Driver options (`max-size`, `max-file`, …). */
  opts?: Record<string, string>
  /** The containerd socket the logger talks back to. */
  address?: string
}

/** What {@link nerdctlLabels} needs to know about the container. */
export interface NerdctlLabelInput {
  /** The containerd namespace. */
  namespace: string
  /** The container id. */
  id: string
  /** The container name (see {@link defaultContainerName}). */
  name: string
  /** The container's state dir (see `containerStateDir`). */
  stateDir: string
  /** Hostname. Default: the first 12 characters of the id, as nerdctl does for a container with its own network namespace. */
  hostname?: string
  /** NIS domain name. Default `''` (nerdctl always writes the label). */
  domainname?: string
  /** `host:ip` entries for /etc/hosts. Default `[]` (always written: the hook requires it). */
  extraHosts?: string[]
  /**
   * Network modes; the first is `inspect`'s `NetworkMode`. Default `["host"]`. Say what the spec does:
   * `host` when the container shares the host's network namespace, `none` when it has its own without CNI.
   */
  networks?: string[]
  /** Platform, `os/arch[/variant]`. Default: this host's, normalised like nerdctl does. */
  platform?: string
  /** Log URI the task writes to; with it, `nerdctl/log-uri` and `nerdctl/log-config` are written. */
  logUri?: string
  /** Log config recorded beside the URI. Default `{ driver: 'json-file' }`. */
  logConfig?: NerdctlLogConfig
  /** Whether the container is removed when it exits (`--rm`). Default false. */
  autoRemove?: boolean
  /** Published ports for the legacy `nerdctl/ports` label (written only when non-empty). */
  ports?: PortMapping[]
  /** Mount points for `nerdctl/mounts.<N>` (written only when non-empty). */
  mounts?: MountPoint[]
  /** Anonymous volume names (written only when non-empty). */
  anonymousVolumes?: string[]
  /** Exposed ports such as `80/tcp` (written only when non-empty). */
  exposedPorts?: string[]
  /** The user as given (`--user` or the image's), written when non-empty. */
  user?: string
  /** Seconds between the stop signal and SIGKILL, written when set. */
  stopTimeout?: number
  /** Written as `"true"` when set. */
  privileged?: boolean
}

/**
 * The `nerdctl/*` labels for a new container, as nerdctl's `create` writes them.
 * @throws InvalidArgumentError when a value would exceed containerd's label size limit, or for a bad platform.
 */
export function nerdctlLabels(input: NerdctlLabelInput): Record<string, string> {
  const labels: Record<string, string> = {
    [NerdctlLabel.namespace]: input.namespace,
    [NerdctlLabel.name]: input.name,
    [NerdctlLabel.hostname]: input.hostname ?? shortContainerId(input.id),
    [NerdctlLabel.domainname]: input.domainname ?? '',
    [NerdctlLabel.extraHosts]: JSON.stringify(input.extraHosts ?? []),
    [NerdctlLabel.stateDir]: input.stateDir,
    [NerdctlLabel.networks]: JSON.stringify(input.networks ?? ['host']),
    [NerdctlLabel.platform]: formatPlatform(input.platform === undefined ? hostPlatform() : parsePlatform(input.platform)),
    [NerdctlLabel.autoRemove]: input.autoRemove === true ? 'true' : 'false',
    // nerdctl always writes these two, with Go's zero values when nothing was set.
    [NerdctlLabel.hostConfig]: JSON.stringify({ BlkioWeight: 0, CidFile: '', Devices: null }),
    [NerdctlLabel.dns]: JSON.stringify({ DNSServers: null, DNSResolvConfOptions: null, DNSSearchDomains: null }),
  }
  if (input.logUri !== undefined && input.logUri !== '') {
    labels[NerdctlLabel.logUri] = input.logUri
    const config = input.logConfig ?? { driver: 'json-file' }
    // Go's field order and omitempty: driver, opts (omitted when empty), address.
    labels[NerdctlLabel.logConfig] = JSON.stringify({
      driver: config.driver,
      ...(config.opts !== undefined && Object.keys(config.opts).length > 0 ? { opts: config.opts } : {}),
      address: config.address ?? '',
    })
  }
  if (input.ports !== undefined && input.ports.length > 0) labels[NerdctlLabel.ports] = JSON.stringify(input.ports)
  if (input.anonymousVolumes !== undefined && input.anonymousVolumes.length > 0) {
    labels[NerdctlLabel.anonymousVolumes] = JSON.stringify(input.anonymousVolumes)
  }
  if (input.mounts !== undefined) Object.assign(labels, mountLabels(input.mounts))
  if (input.exposedPorts !== undefined && input.exposedPorts.length > 0) {
    labels[NerdctlLabel.exposedPorts] = JSON.stringify(Object.fromEntries([...input.exposedPorts].sort().map((p) => [p, {}])))
  }
  if (input.user !== undefined && input.user !== '') labels[NerdctlLabel.user] = input.user
  if (input.stopTimeout !== undefined && input.stopTimeout !== 0) labels[NerdctlLabel.stopTimeout] = String(input.stopTimeout)
  if (input.privileged === true) labels[NerdctlLabel.privileged] = 'true'
  checkLabelSizes(labels)
  return labels
}

/**
 * Mount points as nerdctl stores them: one label per mount, `nerdctl/mounts.0`, `nerdctl/mounts.1`, …,
 * so that no single label hits containerd's size limit.
 */
export function mountLabels(mounts: readonly MountPoint[]): Record<string, string> {
  const labels: Record<string, string> = {}
  mounts.forEach((m, i) => {
    // Go's field order; Type, Name and Driver are omitempty.
    labels[`${NerdctlLabel.mounts}.${i}`] = JSON.stringify({
      ...(m.Type ? { Type: m.Type } : {}),
      ...(m.Name ? { Name: m.Name } : {}),
      Source: m.Source,
      Destination: m.Destination,
      ...(m.Driver ? { Driver: m.Driver } : {}),
      Mode: m.Mode,
      RW: m.RW,
      Propagation: m.Propagation,
    })
  })
  return labels
}

/**
 * The mount points recorded in a container's labels: the legacy `nerdctl/mounts` label if present, else
 * `nerdctl/mounts.0`, `.1`, … up to the first gap. Unreadable JSON yields `[]`.
 */
export function readMountLabels(labels: Readonly<Record<string, string>>): MountPoint[] {
  const legacy = labels[NerdctlLabel.mounts]
  if (legacy !== undefined && legacy !== '') return parseJson<MountPoint[]>(legacy, [])
  const mounts: MountPoint[] = []
  for (let i = 0; i < Object.keys(labels).length; i++) {
    const chunk = labels[`${NerdctlLabel.mounts}.${i}`]
    if (chunk === undefined || chunk === '') break
    const mount = parseJson<MountPoint | undefined>(chunk, undefined)
    if (mount !== undefined) mounts.push(mount)
  }
  return mounts
}

/**
 * The legacy `nerdctl/ports` label as port mappings. Field names are matched without regard to case, as
 * Go's JSON decoder does (`HostPort` and `hostPort` both work). Unreadable JSON yields `[]`.
 */
export function readPortsLabel(labels: Readonly<Record<string, string>>): PortMapping[] {
  const raw = labels[NerdctlLabel.ports]
  if (raw === undefined || raw === '') return []
  return toPortMappings(parseJson<unknown>(raw, []))
}

/** Port mappings from decoded JSON, field names matched without regard to case. */
export function toPortMappings(value: unknown): PortMapping[] {
  if (!Array.isArray(value)) return []
  return value.flatMap((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return []
    const fields = new Map(Object.entries(entry).map(([k, v]) => [k.toLowerCase(), v as unknown]))
    const hostPort = Number(fields.get('hostport') ?? 0)
    const containerPort = Number(fields.get('containerport') ?? 0)
    if (!Number.isInteger(hostPort) || !Number.isInteger(containerPort)) return []
    return [{ HostPort: hostPort, ContainerPort: containerPort, Protocol: String(fields.get('protocol') ?? 'tcp'), HostIP: String(fields.get('hostip') ?? '') }]
  })
}

/**
 * The nerdctl labels among `labels` (every key containing `nerdctl/`, the test nerdctl uses), to be copied
 * into the spec's annotations.
 */
export function nerdctlAnnotations(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([key]) => key.includes(NERDCTL_LABEL_PREFIX)))
}

/**
 * A spec option copying the nerdctl labels into the spec's annotations, as nerdctl does for its OCI hook
 * (which reads the namespace, state dir, networks and extra hosts from there). Apply it last.
 */
export function withNerdctlAnnotations(labels: Readonly<Record<string, string>>): SpecOption {
  const annotations = nerdctlAnnotations(labels)
  return (spec) => {
    spec.annotations = { ...(spec.annotations ?? {}), ...annotations }
  }
}

/**
 * Refuses user labels in nerdctl's namespace, as nerdctl does ("internal label must not be specified
 * manually"): they would be overwritten or confuse nerdctl.
 * @throws InvalidArgumentError naming the first such label.
 */
export function checkUserLabels(labels: Readonly<Record<string, string>>): void {
  for (const key of Object.keys(labels)) {
    if (key.startsWith(NERDCTL_LABEL_PREFIX)) {
      throw new InvalidArgumentError(`label "${key}" is internal to nerdctl and must not be set by hand; use the matching option instead`)
    }
  }
}

/**
 * The name nerdctl gives a container created without one: the image's repository base name, `-`, and
 * the first 5 characters of the id (`docker.io/library/nginx:alpine` → `nginx-1a2b3`); `untitled-…` when
 * the reference has no path.
 */
export function defaultContainerName(imageRef: string, id: string): string {
  let base = 'untitled'
  try {
    const path = parseReference(imageRef).path
    base = path.slice(path.lastIndexOf('/') + 1) || base
  } catch {
    // A reference we cannot parse (an image id, for example) gets nerdctl's fallback name.
  }
  return `${base}-${id.slice(0, 5)}`
}

function checkLabelSizes(labels: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(labels)) {
    const size = Buffer.byteLength(key) + Buffer.byteLength(value)
    if (size > MAX_LABEL_SIZE) {
      throw new InvalidArgumentError(`label "${key}" is ${size} bytes with its value; containerd allows at most ${MAX_LABEL_SIZE}`)
    }
  }
}

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T
  } catch {
    return fallback
  }
}
