/**
 * Which BuildKit exporters a build asks for, and where their output goes on this side. The image output
 * takes one of three routes, by what the builder can export:
 * - a worker storing into the client's own containerd (same introspection UUID) and namespace: BuildKit's
 *   `image` exporter writes and unpacks it there, nothing crosses the session;
 * - dockerd with its classic image store takes only `moby` (into dockerd), `local` and `tar`: the image
 *   is exported into dockerd under a name of its own, read back as `docker save` writes it, imported,
 *   and that name removed from dockerd;
 * - any other BuildKit sends a `docker` tarball over the session, imported as it arrives.
 */

import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { PassThrough, type Writable } from 'node:stream'
import { InvalidArgumentError, NotImplementedError } from '../grpc/errors.js'
import { parseReference } from '../image-spec/reference.js'
import type { BuildKitInfo, BuildKitWorker } from './buildkit-records.js'
import type { BuildOutput } from './build-options.js'
import type { ExportTarget } from './session/filesend-service.js'

/** One exporter of the Solve request. */
export interface PlannedExporter {
  /** The exporter type (`moby`, `docker`, `local`, `tar`, `oci`). */
  type: string
  /** Its attributes. */
  attrs: Record<string, string>
}

/** How the image output reaches the client's namespace. */
export type ImageRoute =
  /** No image output. */
  | { kind: 'none' }
  /** Into dockerd as `name`, then `docker save` from `socketPath` and import. */
  | { kind: 'moby'; socketPath: string; name: string }
  /** BuildKit's `image` exporter writes it straight into the client's containerd and namespace. */
  | { kind: 'direct'; names: string[] }
  /** A `docker` tarball over the session into `sink`, which the build imports from; `opened` once the daemon started sending. */
  | { kind: 'tarball'; sink: PassThrough; opened: boolean }

/** The exporters and the session's export targets for one build. */
export interface ExportPlan {
  /** In Solve order; the index is the FileSend target id. */
  exporters: PlannedExporter[]
  /** FileSend targets by exporter id. */
  targets: Map<string, ExportTarget>
  /** The image output's route. */
  image: ImageRoute
  /** File streams this plan opened (closed by the build when it fails). */
  opened: Writable[]
}

/** What the plan needs to know about the builder and the client. */
export interface BuilderTraits {
  /** The Docker API socket when the builder is dockerd's BuildKit. */
  dockerSocket: string | undefined
  /** dockerd's version (`28.5.1`) when the builder is dockerd's BuildKit. */
  dockerVersion?: string | undefined
  /** What the daemon says of itself. */
  info: BuildKitInfo
  /** Its workers. */
  workers: readonly BuildKitWorker[]
  /** The client's containerd (its introspection UUID) and namespace: a worker on both lands images directly. */
  client?: { uuid: string; namespace: string } | undefined
}

const EXECUTOR_LABEL = 'org.mobyproject.buildkit.worker.executor'
const UUID_LABEL = 'org.mobyproject.buildkit.worker.containerd.uuid'
const NAMESPACE_LABEL = 'org.mobyproject.buildkit.worker.containerd.namespace'

/** Whether a worker of the builder stores into the client's own containerd namespace. */
export function sharesClientNamespace(traits: BuilderTraits): boolean {
  const client = traits.client
  if (client === undefined || client.uuid === '') return false
  return traits.workers.some((w) => w.labels[EXECUTOR_LABEL] === 'containerd' && w.labels[UUID_LABEL] === client.uuid && w.labels[NAMESPACE_LABEL] === client.namespace)
}

/** Whether the builder is dockerd without the containerd image store (its workers are not containerd ones). */
export function isClassicDockerd(traits: BuilderTraits): boolean {
  return traits.dockerSocket !== undefined && !traits.workers.some((w) => w.labels[EXECUTOR_LABEL] === 'containerd')
}

/**
 * Whether the daemon takes several exporters in one Solve (BuildKit v0.13+). dockerd's BuildKit reports
 * `v0.0.0+unknown` (it is not stamped): there dockerd's own version tells, 26.0 being the first with v0.13.
 */
export function takesSeveralExporters(info: BuildKitInfo, dockerVersion?: string): boolean {
  const version = parseMajorMinor(info.version)
  if (version !== undefined && (version[0] > 0 || version[1] > 0)) return version[0] > 0 || version[1] >= 13
  const docker = parseMajorMinor(dockerVersion)
  return docker !== undefined && docker[0] >= 26
}

function parseMajorMinor(version: string | undefined): [number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)/.exec(version ?? '')
  return match === null ? undefined : [Number(match[1]), Number(match[2])]
}

/**
 * Plans the exporters for `outputs`.
 * @throws InvalidArgumentError when the builder cannot export what is asked (several outputs before
 * BuildKit v0.13; `oci`/`docker` from dockerd's classic store), before anything is sent.
 */
export function planExports(outputs: readonly BuildOutput[], traits: BuilderTraits, tags: readonly string[] = []): ExportPlan {
  const plan: ExportPlan = { exporters: [], targets: new Map(), image: { kind: 'none' }, opened: [] }
  const classic = isClassicDockerd(traits)
  const exported = outputs.filter((o): o is Exclude<BuildOutput, { type: 'cacheonly' }> => o.type !== 'cacheonly')
  if (exported.length > 1 && !takesSeveralExporters(traits.info, traits.dockerVersion)) {
    throw new NotImplementedError(`this BuildKit (${traits.info.version ?? 'before v0.11'}) takes one output per build; ${exported.length} were given (several need BuildKit v0.13 or later)`)
  }
  for (const output of exported) {
    const id = String(plan.exporters.length)
    switch (output.type) {
      case 'image':
        if (sharesClientNamespace(traits)) {
          // Names as containerd keeps them (`docker.io/library/app:latest`): the exporter stores them as given.
          const names = tags.map((t) => parseReference(t).string)
          plan.exporters.push({ type: 'image', attrs: { name: names.join(','), unpack: 'true' } })
          plan.image = { kind: 'direct', names }
        } else if (classic && traits.dockerSocket !== undefined) {
          // A name nobody else uses, so no image of the user's in dockerd is retagged or removed.
          const name = `csdk-build-${randomBytes(8).toString('hex')}:latest`
          plan.exporters.push({ type: 'moby', attrs: { name } })
          plan.image = { kind: 'moby', socketPath: traits.dockerSocket, name }
        } else {
          const sink = new PassThrough({ highWaterMark: 1024 * 1024 })
          const route: ImageRoute = { kind: 'tarball', sink, opened: false }
          plan.exporters.push({ type: 'docker', attrs: {} })
          plan.targets.set(id, { kind: 'stream', open: () => { route.opened = true; return sink } })
          plan.image = route
        }
        break
      case 'local':
        plan.exporters.push({ type: 'local', attrs: {} })
        plan.targets.set(id, { kind: 'directory', dir: output.dest })
        break
      case 'oci':
      case 'docker':
        if (classic) {
          throw new InvalidArgumentError(`dockerd's classic image store cannot export ${output.type} archives (it exports image, local and tar): use the containerd image store or a buildkitd`)
        }
        plan.exporters.push({ type: output.type, attrs: {} })
        plan.targets.set(id, { kind: 'stream', open: () => openDest(output.dest, plan) })
        break
      case 'tar':
        plan.exporters.push({ type: 'tar', attrs: {} })
        plan.targets.set(id, { kind: 'stream', open: () => openDest(output.dest, plan) })
        break
    }
  }
  return plan
}

/** A file path is opened when the daemon starts sending; a caller's stream is used as it is. */
function openDest(dest: string | Writable, plan: ExportPlan): Writable {
  if (typeof dest !== 'string') return dest
  const file = createWriteStream(dest)
  plan.opened.push(file)
  return file
}
