import { rm } from 'node:fs/promises'
import type { ClientCore } from '../client/client.js'
import { NotFoundError, NotImplementedError } from '../grpc/errors.js'
import type { ContainerdContainer } from '../containers/container.js'
import { Container } from '../docker/container.js'
import { releaseNerdctlMetadata } from '../nerdctl/release-metadata.js'
import { generateContainerId } from '../nerdctl/container-id.js'
import { createContainer, CREATE_CONTAINER_OPTION_KEYS, readImageContent, type CreateContainerOptions } from '../containers/create-container.js'
import { containerStateDir, dataStorePath } from '../nerdctl/data-store.js'
import { NameStore } from '../nerdctl/name-store.js'
import { acquireContainerName } from '../nerdctl/name-owner.js'
import { OWNER_LABEL, ownerToken } from '../util/process-owner.js'
import { checkUserLabels, defaultContainerName, nerdctlLabels, withNerdctlAnnotations } from '../nerdctl/labels.js'
import { checkRestartPolicy, restartLabels } from '../containers/restart-policy.js'
import { createStateDir, recordStarted, withHostnameFile } from '../nerdctl/state-dir.js'
import type { Image } from '../images/image.js'
import { getImage } from '../images/get-image.js'
import { pullImage } from '../images/pull.js'
import { prepareJsonFileLog } from '../logs/log-config.js'
import { startBinaryLogger, type BinaryLogger } from '../logs/binary-logger.js'
import { jsonFileLogUri } from '../logs/logger-uri.js'
import { detachContainerNetwork, planContainerNetwork, type NetworkAttaching } from '../network/container-network.js'
import { parseNetworkOption } from '../network/network-option.js'
import { NerdctlVolumeStore } from '../volumes/volume-store.js'
import { prepareVolumeMounts, removeAnonymousVolumes, withVolumeMounts, type PreparedVolumes } from '../volumes/volume-mounts.js'
import { volumesInUse } from '../volumes/volumes-in-use.js'
import type { Task } from '../tasks/task.js'
import type { TaskStdio } from '../tasks/task-io.js'
import { openLogFile, RunIo } from './run-io.js'
import { checkMaxBuffer } from '../tasks/bounded-output.js'
import { checkRunOptions, type RunOptions } from './run-options.js'

/**
 * What a detached `run()` gives back: the container, running, with its name. It is a {@link Container},
 * so `stop()`, `remove()`, `inspect()`, `exec()`, `task()` and the rest work on it directly; `await using`
 * it removes the container (task, record, snapshot, name, state dir, log) when the scope ends.
 */
export class DetachedRun extends Container {
  /** Its name. */
  readonly name: string

  /** @internal */
  constructor(client: ClientCore, id: string, name: string) {
    super(client, id)
    this.name = name
  }
}

/** What an attached `run()` gives back once the process exited. */
export interface CompletedRun {
  /** The container's id (64 hex characters). */
  id: string
  /** Its name. */
  name: string
  /** The container (with its stopped task), or undefined after `rm`. */
  container: Container | undefined
  /** The process's exit code (128 + n when signal n ended it). */
  exitCode: number
  /** Everything it wrote to stdout (`stdio: 'pipe'` only). */
  stdout?: string
  /** Everything it wrote to stderr (`stdio: 'pipe'` only). */
  stderr?: string
}

/**
 * Does what `nerdctl run` does: pulls the image if needed, creates a container with nerdctl's metadata
 * (64-hex id, name reserved in the name store, `nerdctl/*` labels, state dir), starts it, and either
 * returns at once (`detach`, output to the json-file log) or waits for the exit (output to `stdio`,
 * removed with `rm`). Everything made is undone if a step fails: no name, state dir, container or
 * snapshot is left behind.
 * @throws InvalidArgumentError for conflicting or bad options; ConflictError for a name in use;
 *   NotFoundError for an image that is not there with `pull: 'never'`; RegistryError from the pull;
 *   NotImplementedError for a restart policy the daemon cannot apply (with `tty`: before containerd 2.0).
 */
export async function runContainer(client: ClientCore, reference: string, options: RunOptions = {}): Promise<DetachedRun | CompletedRun> {
  checkRunOptions(options)
  checkMaxBuffer(options.maxBuffer)
  checkUserLabels(options.labels ?? {})
  const detach = options.detach === true
  const tty = options.tty === true
  const stdio = options.stdio ?? 'inherit'
  // Opened first, so a path that cannot be opened fails the run before anything is pulled or made.
  const logFile = !detach && typeof stdio === 'object' && 'logFile' in stdio ? await openLogFile(stdio.logFile) : undefined
  // Until the try below owns it, a failed step closes the file.
  const dropLogFile = (err: unknown): never => {
    logFile?.destroy()
    throw err
  }
  const callOptions = options.signal !== undefined ? { signal: options.signal } : {}
  const restart = options.restart ?? 'no'
  const parsedRestart = restart === 'no' ? undefined : await checkRestartPolicy(client, restart, callOptions).catch(dropLogFile)
  if (parsedRestart !== undefined && tty) await checkTerminalRestart(client, restart, callOptions).catch(dropLogFile)
  const image = await ensureImage(client, reference, options).catch(dropLogFile)
  const id = generateContainerId()
  const name = options.name ?? defaultContainerName(image.name, id)
  const dataStore = dataStorePath(client.address, client.dataRoot)
  const stateDir = containerStateDir(dataStore, client.namespace, id)
  // Decided before anything is made: an unknown network, a bad port or one in use fails here.
  const network = await planContainerNetwork(client, {
    id,
    name,
    stateDir,
    dataStore,
    choice: parseNetworkOption(options.network),
    ports: options.ports,
    addHosts: options.addHosts,
    ip: options.ip,
    mac: options.mac,
    hostname: options.hostname,
    dns: options.dns,
    dnsSearch: options.dnsSearch,
    dnsOptions: options.dnsOptions,
    signal: options.signal,
  }).catch(dropLogFile)
  const hostname = network.hostname
  // Volumes (`-v`, and the image's VOLUMEs): made under the volume store's lock together with the record.
  const volumeStore = new NerdctlVolumeStore(dataStore, client.namespace)
  let volumes: PreparedVolumes | undefined
  const names = new NameStore(dataStore, client.namespace)
  // Checked against containerd: a record a crashed run left under this name is removed first.
  const naming = acquireContainerName(client, dataStore, name, id, callOptions)
  // The network is attached from here on, while the name is reserved, the state dir made and the
  // container and its task created: the spec only names the namespace's path, which runc needs at task
  // creation, and the interfaces need to be there only when the process starts. CNI's plugins take
  // longer than all of these, so this hides them. The container's names go into the hosts store only
  // once its name is its own.
  const attaching: NetworkAttaching = network.attach(options.signal, naming)

  let container: ContainerdContainer | undefined
  let task: Task | undefined
  let io: RunIo | undefined
  let loggerStart: Promise<BinaryLogger> | undefined
  let networkMade = true
  try {
    await naming
    // Read once here (the image's VOLUMEs) and handed to the create.
    const imageContent = await readImageContent(client, image, callOptions)
    const imageConfig = imageContent.config
    const useVolumes = (options.volumes?.length ?? 0) > 0 || Object.keys(imageConfig.config?.Volumes ?? {}).length > 0
    await createStateDir(stateDir, { ...(hostname !== undefined ? { hostname } : {}), portMappings: network.ports })
    await network.prepare()
    // Like nerdctl, every run gets the json-file log (attached ones too: the output is copied to it),
    // unless an attached run hands its output to a logging URI of the caller's.
    let logUri: string | undefined
    if (detach || !(typeof stdio === 'object' && 'logUri' in stdio)) {
      await prepareJsonFileLog({ ...options.logOptions, dataStore, namespace: client.namespace, id })
      logUri = jsonFileLogUri({ dataStore })
      // An attached run copies the output to the logger itself (nerdctl's container IO): start it now,
      // while the container is created (it takes a node start-up, ~50 ms).
      if (!detach) {
        loggerStart = startBinaryLogger(logUri, { id, namespace: client.namespace, signal: options.signal })
        loggerStart.catch(() => undefined) // awaited below, or killed by the undo
      }
    }
    const labels = {
      ...options.labels,
      // Who made it: if this process dies before an `rm` run is removed, prune() can tell and remove it.
      [OWNER_LABEL]: ownerToken(),
      ...nerdctlLabels({
        namespace: client.namespace,
        id,
        name,
        stateDir,
        ...(hostname !== undefined ? { hostname } : {}),
        networks: network.networks,
        ports: network.ports,
        extraHosts: network.extraHosts,
        ...(logUri !== undefined ? { logUri } : {}),
        ...(options.logOptions !== undefined ? { logConfig: { driver: 'json-file', opts: logConfigOpts(options.logOptions) } } : {}),
        autoRemove: options.rm === true,
        ...(options.user !== undefined ? { user: options.user } : {}),
        ...(options.stopTimeout !== undefined ? { stopTimeout: options.stopTimeout } : {}),
        ...(options.privileged === true ? { privileged: true } : {}),
      }),
      ...(parsedRestart !== undefined ? restartLabels(parsedRestart, logUri !== undefined ? { logUri } : {}) : {}),
      ...network.labels,
    }
    const createRecord = async (): Promise<ContainerdContainer> => {
      if (useVolumes) {
        volumes = await prepareVolumeMounts(volumeStore, options.volumes ?? [], {
          client,
          image,
          imageConfig,
          ...(options.snapshotter !== undefined ? { snapshotter: options.snapshotter } : {}),
          otherMountPaths: otherMountPaths(options),
          ...callOptions,
        })
        Object.assign(labels, volumes.labels)
      }
      return createContainer(client, id, {
        ...containerOptions(options),
        image,
        labels,
        ...(hostname !== undefined ? { hostname } : {}),
        specOptions: [
          ...network.specOptions,
          ...(hostname !== undefined ? [withHostnameFile(stateDir)] : []),
          ...(volumes !== undefined ? [withVolumeMounts(volumes)] : []),
          ...(options.specOptions ?? []),
          // Last: nerdctl's hook reads its labels from the annotations.
          withNerdctlAnnotations(labels),
        ],
      }, imageContent)
    }
    // nerdctl holds the volume store's lock from making the volumes to recording the container, so a
    // prune cannot take a new anonymous volume before the container's labels name it.
    container = useVolumes ? await volumeStore.withLock(createRecord, callOptions) : await createRecord()
    await attaching.namespaceReady
    if (detach) {
      task = await besideAttach(attaching, container.newTask({ ...callOptions, stdio: { logUri: logUri as string, ...(tty ? { terminal: true } : {}) } }))
      await attaching.attached
      await task.start(callOptions)
      await recordStarted(stateDir)
      // (A restart policy's status label was set by task.start(): see Container.newTask.)
      return new DetachedRun(client, id, name)
    }

    let taskStdio: TaskStdio
    if (typeof stdio === 'object' && 'logUri' in stdio) {
      taskStdio = { logUri: stdio.logUri, ...(tty ? { terminal: true } : {}) }
    } else {
      // nerdctl's container IO: the logger runs here, fed a copy of what goes to the caller.
      io = new RunIo({
        stdio,
        tty,
        interactive: options.interactive === true,
        logger: await loggerStart,
        ...(logFile !== undefined ? { logFile } : {}),
        ...(options.maxBuffer !== undefined ? { maxBuffer: options.maxBuffer } : {}),
      })
      taskStdio = io.taskStdio()
    }
    task = await besideAttach(attaching, container.newTask({ ...callOptions, stdio: taskStdio }))
    // Wait from before start, so a fast exit is not missed.
    const exited = task.wait(callOptions)
    exited.catch(() => undefined) // awaited below, or abandoned when start fails
    await io?.attach(task)
    await attaching.attached
    await task.start(callOptions)
    await recordStarted(stateDir)

    const { exitCode } = await exited
    const collected = io !== undefined ? await io.finish() : undefined
    if (options.rm === true) {
      await task.delete(callOptions)
      networkMade = false
      // The record goes even when the network cannot be detached (then the error is thrown after): a
      // record left behind would keep the name taken for nothing.
      const detached = await network.detach().then(() => undefined, (err: unknown) => err)
      await container.delete(callOptions)
      await releaseNerdctlMetadata(id, labels)
      if (detached !== undefined) throw detached
      // `--rm` takes the anonymous volumes with it (nerdctl and Docker do); one another container uses stays.
      await removeAnonymousVolumes(volumeStore, labels, { inUse: () => volumesInUse(client) })
    } else {
      // The process is gone: its addresses and published ports go too (Docker's behaviour); starting the
      // container again attaches it anew.
      await detachContainerNetwork(client, id, labels, false)
    }
    // Past maxBuffer RunIo killed the task: the run fails, once rm was honoured (without rm the stopped
    // container is kept, as after any exit).
    if (io?.overflow !== undefined) throw io.overflow
    return { id, name, container: options.rm === true ? undefined : new Container(client, id), exitCode, ...collected }
  } catch (err) {
    // The overflow above comes after a finished run: nothing to undo.
    if (io?.overflow !== undefined && err === io.overflow) throw err
    io?.abort()
    if (io === undefined) {
      logFile?.destroy()
      ;(await loggerStart?.catch(() => undefined))?.kill()
    }
    // A failed step leaves the attach running: settled before it is undone.
    await attaching.attached.catch(() => undefined)
    await undo(names, name, id, stateDir, container, task, networkMade ? network.detach : undefined)
    await volumes?.undo().catch(() => undefined)
    throw err
  }
}

/**
 * A task created while the network attaches: when the attach fails, it removes the namespace, and the
 * task's creation fails for want of it (runc's "invalid netns path"); the attach's error says why.
 */
async function besideAttach<T>(attaching: NetworkAttaching, creating: Promise<T>): Promise<T> {
  try {
    return await creating
  } catch (err) {
    await attaching.attached
    throw err
  }
}

/**
 * containerd's restart monitor before 2.0 re-creates a task without a terminal, which runc refuses for a
 * container whose spec asks for one ("cannot allocate tty if runc will detach without setting console
 * socket"): the container would never come back. Refused up front instead.
 */
async function checkTerminalRestart(client: ClientCore, policy: string, options: { signal?: AbortSignal }): Promise<void> {
  const { version } = await client.version(options)
  const major = /^v?(\d+)\./.exec(version)?.[1]
  if (major !== undefined && Number(major) < 2) {
    throw new NotImplementedError(
      `restart policy "${policy}" with tty needs containerd 2.0 or newer: the restart monitor of containerd ${version} ` +
        'restarts tasks without a terminal, which runc refuses; drop tty or the restart policy',
    )
  }
}

/** Finds the image, pulling it as the policy says. */
async function ensureImage(client: ClientCore, reference: string, options: RunOptions): Promise<Image> {
  const policy = options.pull ?? 'missing'
  const pullOptions = { ...options.pullOptions, ...(options.snapshotter !== undefined ? { snapshotter: options.snapshotter } : {}), ...(options.signal !== undefined ? { signal: options.signal } : {}) }
  if (policy !== 'always') {
    try {
      const image = await getImage(client, reference, options)
      if (policy === 'never' || (await image.isUnpacked({ ...options, ...(options.snapshotter !== undefined ? { snapshotter: options.snapshotter } : {}) }))) return image
    } catch (err) {
      if (!(err instanceof NotFoundError) || policy === 'never') {
        if (err instanceof NotFoundError) throw new NotFoundError(`image ${reference} is not in namespace ${client.namespace} and pull is 'never'`, { cause: err })
        throw err
      }
    }
  }
  const pulled = await pullImage(client, reference, pullOptions)
  return getImage(client, pulled.name, options)
}

function logConfigOpts(options: NonNullable<RunOptions['logOptions']>): Record<string, string> {
  const opts: Record<string, string> = {}
  if (options.maxSize !== undefined) opts['max-size'] = String(options.maxSize)
  if (options.maxFile !== undefined) opts['max-file'] = String(options.maxFile)
  return opts
}

/** Removes what a failed run made, newest first; each step best effort so the others still happen. */
async function undo(
  names: NameStore,
  name: string,
  id: string,
  stateDir: string,
  container: ContainerdContainer | undefined,
  task: Task | undefined,
  detachNetwork: (() => Promise<void>) | undefined,
): Promise<void> {
  if (task !== undefined) await task.delete({ force: true }).catch(() => undefined)
  // After the task (nothing runs in the namespace any more), before the record.
  await detachNetwork?.().catch(() => undefined)
  if (container !== undefined) await container.delete().catch(() => undefined)
  await names.release(name, id).catch(() => undefined)
  await rm(stateDir, { recursive: true, force: true })
}

/** The container paths the `mounts` and `tmpfs` options take (a volume there would be a duplicate mount point). */
function otherMountPaths(options: RunOptions): string[] {
  const paths: string[] = []
  for (const m of options.mounts ?? []) {
    if (typeof m === 'string') {
      const target = m.split(':')[1]
      if (target !== undefined) paths.push(target)
    } else {
      paths.push(m.target)
    }
  }
  const tmpfs = options.tmpfs ?? []
  for (const t of Array.isArray(tmpfs) ? (tmpfs as readonly string[]).map((x) => x.split(':')[0] ?? x) : Object.keys(tmpfs)) paths.push(t)
  return paths
}

/** The container options among run()'s (run's own, such as `name` or `detach`, are not create's to see). */
function containerOptions(options: RunOptions): Omit<CreateContainerOptions, 'image'> {
  return Object.fromEntries(Object.entries(options).filter(([key]) => key in CREATE_CONTAINER_OPTION_KEYS && key !== 'image')) as Omit<CreateContainerOptions, 'image'>
}
