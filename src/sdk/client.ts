import { ClientCore } from '../client/client.js'
import type { Image } from '../images/image.js'
import { getImage } from '../images/get-image.js'
import { ImageStore } from '../images/image-store.js'
import { checkPullOptions, pullImage, type PullOptions } from '../images/pull.js'
import { transferPull } from '../images/transfer-pull.js'
import { DEFAULT_DATA_ROOT, dataStorePath } from '../nerdctl/data-store.js'
import { resolveContainerId } from '../nerdctl/container-lookup.js'
import { containerLogs, CONTAINER_LOGS_OPTION_KEYS } from '../logs/container-logs.js'
import { checkOptionKeys, omitKeys } from '../client/option-check.js'
import type { LogEntry } from '../logs/log-entry.js'
import type { Container } from '../docker/container.js'
import { ContainerStore } from '../docker/container-store.js'
import { NetworkStore } from '../network/network-manager.js'
import { VolumeStore } from '../volumes/volume-manager.js'
import { runContainer, type CompletedRun, type DetachedRun } from '../run/run.js'
import type { RunOptions } from '../run/run-options.js'
import type { ConnectOptions } from '../client/client-options.js'
import { buildImage, type BuildResult } from '../build/build-image.js'
import type { BuildOptions } from '../build/build-options.js'
import type { LogsOptions } from './client-options.js'

/**
 * A connection to containerd, bound to one namespace: the connection and the client core (services,
 * namespaces, leases, content, snapshots, events), the stores `images` and `containers`, and the
 * headline verbs `pull`, `run` and `logs`.
 *
 * Create one with {@link Client.connect}; make views on other namespaces with `withNamespace` (they
 * share the connection). The client reconnects by itself after the daemon restarts: a call made while
 * the daemon is down fails with `UnavailableError`, the next one after it is back succeeds.
 *
 * @example
 * ```ts
 * await using client = await Client.connect({ namespace: 'example' })
 * const image = await client.pull('docker.io/library/busybox:latest')
 * console.log(image.name, image.digest, (await image.config()).config?.Cmd)
 * ```
 */
export class Client extends ClientCore {
  /** The namespace's images: get, list, remove, prune, push, import, export. */
  readonly images: ImageStore = new ImageStore(this)
  /** The namespace's containers: create, get (by id, name or id prefix), list, ps. */
  readonly containers: ContainerStore = new ContainerStore(this)
  /** Networks (nerdctl's `network create / ls / inspect / rm / prune`) containers of this namespace join with `run({ network })`. */
  readonly networks: NetworkStore = new NetworkStore(this)
  /** Volumes (nerdctl's `volume create / ls / inspect / rm / prune`) containers of this namespace mount with `run({ volumes })`. */
  readonly volumes: VolumeStore = new VolumeStore(this)

  /**
   * Connects to containerd and checks the connection with a `Version` call.
   * @throws UnavailableError naming the socket when nothing answers there.
   * @throws InvalidArgumentError for a malformed address, namespace or data root.
   */
  static override async connect(options: ConnectOptions = {}): Promise<Client> {
    return ClientCore.open(options, (channel, namespace, settings) => new Client(channel, namespace, true, undefined, settings))
  }

  /** The nerdctl data store of this client's containerd: `<dataRoot>/<8 hex of sha256(socket path)>`. */
  get dataStore(): string {
    return dataStorePath(this.address, this.dataRoot ?? DEFAULT_DATA_ROOT)
  }

  /**
   * Pulls an image and unpacks it; resolves when the image is stored and unpacked (see `PullOptions`).
   * A failed pull leaves nothing behind.
   * @throws RegistryError for registry failures (not found, unauthorized, unavailable, digest mismatch).
   */
  async pull(reference: string, options: PullOptions = {}): Promise<Image> {
    // Checked before `strategy` picks the path, so a bad options value is a typed error on both.
    checkPullOptions(options)
    return this.guardNamespace(async () => {
      if (options.strategy === 'transfer') return getImage(this, await transferPull(this, reference, options), options)
      const pulled = await pullImage(this, reference, options)
      return getImage(this, pulled.name, options)
    })
  }

  /**
   * Runs an image like `nerdctl run`: pulls it if missing, creates a container with nerdctl's metadata
   * (name, labels, state dir), starts it, and with `detach: true` resolves with it running (a
   * {@link DetachedRun}; output in the json-file log, see {@link Client.logs}); otherwise waits for it
   * to exit and resolves with the exit code (a {@link CompletedRun}, with the output for
   * `stdio: 'pipe'`), removing it with `rm`. An attached run's output goes to `stdio` and to the
   * json-file log too. `tty` runs it on a terminal (`-t`), `interactive` feeds stdin (`-i`).
   * A failed run leaves nothing behind (one exception: output past `maxBuffer` with `stdio: 'pipe'`
   * kills the process and rejects with `ResourceExhaustedError`, and without `rm` the stopped container
   * is kept, as after any exit).
   * @throws InvalidArgumentError for bad or conflicting options; ConflictError when the name is taken.
   * @throws ResourceExhaustedError when collected output exceeds `maxBuffer`.
   */
  async run<Detach extends boolean = false>(image: string, options?: RunOptions & { detach?: Detach }): Promise<Detach extends true ? DetachedRun : CompletedRun> {
    const result = await this.guardNamespace(() => runContainer(this, image, options))
    return result as Detach extends true ? DetachedRun : CompletedRun
  }

  /**
   * Builds a Dockerfile with BuildKit (buildkitd, or the one inside dockerd through `docker://`) and
   * lands the image under `tags` in this namespace, ready for {@link Client.run}. The context is sent
   * over BuildKit's session with the fsutil protocol (a rebuild sends only what changed, `.dockerignore`
   * honoured), secrets and registry credentials are served on request, progress arrives as events.
   * A failed or canceled build closes its session and leaves no image tagged.
   *
   * @example
   * ```ts
   * await client.build({ context: './app', tags: ['example.com/app:1'], builder: 'docker://unix:///var/run/docker.sock' })
   * await client.run('example.com/app:1', { rm: true })
   * ```
   * @throws BuildError when a step fails (its name and last log lines in the error).
   * @throws NotFoundError for a missing context, Dockerfile or secret source; InvalidArgumentError for
   * bad options; UnavailableError when no BuildKit answers; CanceledError when `signal` aborts.
   */
  async build(options: BuildOptions): Promise<BuildResult> {
    return this.guardNamespace(() => buildImage(this, options))
  }

  /**
   * A container's json-file log (containers from `run()`, or nerdctl's), as an async iterator
   * of `{ stream, time, line }`; with `follow` it ends once the task exited and its logger drained.
   * The container is given by id, name, unique id prefix, or handle.
   * @throws NotFoundError when the container or its log does not exist.
   */
  logs(container: string | Container, options: LogsOptions = {}): AsyncIterable<LogEntry> {
    // A typo is reported before the container is looked up (a missing container would hide it).
    checkOptionKeys(options, omitKeys(CONTAINER_LOGS_OPTION_KEYS, 'dataStore'), 'logs()')
    const id = (): Promise<string> => (typeof container === 'string' ? resolveContainerId(this, container, options) : Promise.resolve(container.id))
    const dataStore = this.dataStore
    const logsOf = (containerId: string): AsyncGenerator<LogEntry> => containerLogs(this, containerId, { ...options, dataStore })
    return {
      async *[Symbol.asyncIterator]() {
        yield* logsOf(await id())
      },
    }
  }
}
