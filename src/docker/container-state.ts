/**
 * The facts about one container that `inspect` and `ps` rows are made of, read in one place: the
 * container record, its spec, its task's state, and what nerdctl's state dir holds. The formatting
 * itself (`container-inspect.ts`, `container-rows.ts`) is pure and works on this snapshot.
 */

import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { ClientCore } from '../client/client.js'
import { statusName, type TaskStatus } from '../tasks/task.js'
import { decodeRecordSpec } from '../oci/spec-json.js'
import type { Container as ContainerMessage } from '../gen/containerd/services/containers/v1/containers_pb.js'
import { NotFoundError } from '../grpc/errors.js'
import { toDate } from '../client/time.js'
import type { CallOptions } from '../grpc/call-options.js'
import type { Spec } from '../oci/runtime-spec.js'
import { toInfo, type ContainerInfo } from '../containers/container.js'
import { NerdctlLabel, readPortsLabel, type PortMapping } from '../nerdctl/labels.js'
import { readLifecycle, readNetworkConfig, StateFile } from '../nerdctl/state-dir.js'

/** A task's state as containerd reports it. */
export interface TaskState {
  /** containerd's task status. */
  status: TaskStatus
  /** The init process's pid (0 once stopped). */
  pid: number
  /** The exit status, when stopped. */
  exitStatus: number
  /** When it exited, when stopped. */
  exitedAt: Date | undefined
}

/** Which of nerdctl's per-container files exist (their paths are reported only when they do). */
export interface StateDirFiles {
  /** `<state dir>/hostname`. */
  hostnamePath?: string
  /** `<state dir>/resolv.conf`. */
  resolvConfPath?: string
  /** `<state dir>/hosts`. */
  hostsPath?: string
  /** `<state dir>/<id>-json.log`. */
  logPath?: string
}

/** Everything `inspect` and `ps` rows are computed from. */
export interface ContainerSnapshot {
  /** The container record. */
  info: ContainerInfo
  /** The OCI spec stored with it (`{}` when absent). */
  spec: Spec | Record<string, never>
  /** The task, when there is one. */
  task: TaskState | undefined
  /** When the task last started (nerdctl's `lifecycle.json`). */
  startedAt: Date | undefined
  /** Published ports: `network-config.json`, else the legacy `nerdctl/ports` label. */
  ports: PortMapping[]
  /** Files found in the state dir. */
  files: StateDirFiles
}

/**
 * Reads a container's snapshot: record, spec, task state (tasks.get, no shim round trip beyond it), and
 * the state dir named by its `nerdctl/state-dir` label, if any. Pass `record` when the container record
 * was just read (by a list) to skip reading it again.
 * @throws NotFoundError when there is no container with that id.
 */
export async function readContainerSnapshot(client: ClientCore, id: string, options?: CallOptions, record?: ContainerMessage): Promise<ContainerSnapshot> {
  // A record already listed is used as it is (one RPC less per container in `ps`).
  const container = record ?? (await client.services.containers.get({ id }, options)).container
  if (container === undefined) throw new NotFoundError(`container ${id}: not found`)
  const info = toInfo(container)
  const spec = parseSpec(container.spec?.value)
  const task = await readTaskState(client, id, options)
  const stateDir = info.labels[NerdctlLabel.stateDir]
  if (stateDir === undefined || stateDir === '') {
    return { info, spec, task, startedAt: undefined, ports: readPortsLabel(info.labels), files: {} }
  }
  const [lifecycle, networkPorts, files] = await Promise.all([
    readLifecycle(stateDir),
    readNetworkConfig(stateDir),
    findStateFiles(stateDir, id),
  ])
  return {
    info,
    spec,
    task,
    startedAt: lifecycle.startedAt,
    ports: networkPorts.length > 0 ? networkPorts : readPortsLabel(info.labels),
    files,
  }
}

/** A record's spec; an unreadable one (not ours to judge here) reads as `{}`. */
function parseSpec(value: Uint8Array | undefined): ContainerSnapshot['spec'] {
  try {
    return decodeRecordSpec(value) as ContainerSnapshot['spec']
  } catch {
    return {}
  }
}

/** The container's task state, or undefined when it has no task. */
export async function readTaskState(client: ClientCore, id: string, options?: CallOptions): Promise<TaskState | undefined> {
  try {
    const { process } = await client.services.tasks.get({ containerId: id }, options)
    if (process === undefined) return undefined
    const status = statusName(process.status)
    return {
      status,
      pid: status === 'stopped' ? 0 : process.pid,
      exitStatus: process.exitStatus,
      exitedAt: status === 'stopped' ? toDate(process.exitedAt) : undefined,
    }
  } catch (err) {
    if (err instanceof NotFoundError) return undefined
    throw err
  }
}

async function findStateFiles(stateDir: string, id: string): Promise<StateDirFiles> {
  const candidates = {
    hostnamePath: join(stateDir, StateFile.hostname),
    resolvConfPath: join(stateDir, StateFile.resolvConf),
    hostsPath: join(stateDir, 'hosts'),
    logPath: join(stateDir, `${id}-json.log`),
  }
  const files: StateDirFiles = {}
  await Promise.all(
    (Object.keys(candidates) as (keyof StateDirFiles)[]).map(async (key) => {
      if (await stat(candidates[key]).then(() => true, () => false)) files[key] = candidates[key]
    }),
  )
  return files
}
