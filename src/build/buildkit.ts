import type { CallOptions } from '../grpc/call-options.js'
import { InvalidArgumentError, NotImplementedError, UnavailableError, isContainerdError } from '../grpc/errors.js'
import { Http2Channel } from '../grpc/http2-channel.js'
import { createServiceClient, type ServiceClient } from '../grpc/service-client.js'
import { Control } from '../gen/moby/buildkit/api/services/control/control_pb.js'
import { defaultBuildKitAddresses, parseBuildKitAddress, type BuildKitAddress } from './buildkit-address.js'
import { dialBuildKit } from './buildkit-dial.js'
import { toUsageRecord, toWorker, type BuildKitInfo, type BuildKitUsageRecord, type BuildKitWorker } from './buildkit-records.js'

/** Options for {@link BuildKit.connect}. */
export interface BuildKitConnectOptions extends CallOptions {
  /**
   * `unix:///path`, `tcp://host:port` or `docker://unix:///var/run/docker.sock`. Default: `$BUILDKIT_HOST`,
   * else the first of `/run/buildkit/buildkitd.sock` and `/run/buildkit-default/buildkitd.sock` that answers.
   */
  address?: string
  /** How long to wait for the connection (and for dockerd's upgrade), in ms. Default 10 s. */
  connectTimeoutMs?: number
}

/** Options for {@link BuildKit.diskUsage}. */
export interface BuildKitDiskUsageOptions extends CallOptions {
  /** containerd-style filters on record fields (e.g. `type==regular`); all must match. */
  filters?: string[]
}

/** Options for {@link BuildKit.prune}. */
export interface BuildKitPruneOptions extends CallOptions {
  /** Remove records still referenced by nothing but kept as cache too (buildctl prune --all). Default false. */
  all?: boolean
  /** containerd-style filters; only matching records are removed. */
  filters?: string[]
  /** Keep records used within this many milliseconds. Default 0 (no age limit). */
  keepDurationMs?: number
}

/** What a build needs of a connection beyond the public methods: kept off the public class. */
export interface BuildKitInternals {
  /** Where the daemon listens (`docker` for dockerd's embedded BuildKit). */
  endpoint: BuildKitAddress
  /** The Control service, for Solve and Status. */
  control: ServiceClient<typeof Control>
  /** The connection, for the session tunnel. */
  transport: Http2Channel
}

const INTERNALS = new WeakMap<BuildKit, BuildKitInternals>()

/** The build's view of a connection (not part of the package's API). */
export function buildKitInternals(builder: BuildKit): BuildKitInternals {
  const internals = INTERNALS.get(builder)
  if (internals === undefined) throw new TypeError('not a connection made by BuildKit.connect()')
  return internals
}

// Metadata sent on every Control call: BuildKit needs none (dockerd's /grpc forwards the call as is).
const NO_METADATA = (): Record<string, string> => ({})

/**
 * A connection to a BuildKit daemon: buildkitd, or the BuildKit inside dockerd (`docker://`). It answers
 * version, workers, cache usage and pruning for every BuildKit from v0.8 (dockerd 20.10) on; builds go
 * through `client.build({ builder })`, which takes this handle or an address.
 *
 * @example
 * ```ts
 * await using builder = await BuildKit.connect({ address: 'docker://unix:///var/run/docker.sock' })
 * console.log((await builder.info()).version)
 * ```
 */
export class BuildKit implements AsyncDisposable {
  private readonly control: ServiceClient<typeof Control>

  private constructor(
    /** The address connected to, as given (or the default that answered). */
    readonly address: string,
    target: BuildKitAddress,
    private readonly channel: Http2Channel,
  ) {
    this.control = createServiceClient(Control, channel, NO_METADATA)
    INTERNALS.set(this, { endpoint: target, control: this.control, transport: channel })
  }

  /**
   * Connects and checks that the daemon answers (a ListWorkers call), so a wrong address fails here, not
   * at the first build.
   *
   * @throws InvalidArgumentError for a malformed address.
   * @throws UnavailableError naming the address (every tried default, when none was given) when no BuildKit answers.
   */
  static async connect(options: BuildKitConnectOptions = {}): Promise<BuildKit> {
    const candidates = options.address !== undefined ? [options.address] : defaultBuildKitAddresses()
    const targets = candidates.map((a) => parseBuildKitAddress(a))
    const failures: string[] = []
    let last: unknown
    for (const target of targets) {
      const control = BuildKit.open(target, options.connectTimeoutMs)
      try {
        await control.control.listWorkers({}, callOptions(options))
        return control
      } catch (err) {
        control.close()
        // Only "nothing there" moves on to the next default; any other answer is the daemon's and final.
        if (!(isContainerdError(err) && err.code === 'Unavailable') || targets.length === 1) throw err
        failures.push(err.message)
        last = err
      }
    }
    throw new UnavailableError(`no BuildKit daemon found (set BUILDKIT_HOST or pass address): ${failures.join('; ')}`, { cause: last })
  }

  private static open(target: BuildKitAddress, connectTimeoutMs: number | undefined): BuildKit {
    const channel = new Http2Channel(target.address, {
      dial: (signal) => dialBuildKit(target, signal),
      peerName: 'BuildKit',
      ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
    })
    return new BuildKit(target.address, target, channel)
  }

  /**
   * The daemon's version. BuildKit before v0.11 (dockerd 20.10 embeds v0.8) has no Info RPC: then the
   * workers are asked instead, and the version is reported unknown when they do not carry one either.
   */
  async info(options: CallOptions = {}): Promise<BuildKitInfo> {
    try {
      const response = await this.control.info({}, options)
      const v = response.buildkitVersion
      return { version: v?.version || undefined, package: v?.package || undefined, revision: v?.revision || undefined, source: 'info', hasInfoRpc: true }
    } catch (err) {
      if (!(err instanceof NotImplementedError)) throw err
    }
    const workers = await this.workers(options)
    const version = workers.map((w) => w.buildkitVersion).find((v) => v !== undefined)
    return { version, package: undefined, revision: undefined, source: version !== undefined ? 'workers' : 'unknown', hasInfoRpc: false }
  }

  /** The daemon's workers. */
  async workers(options: CallOptions = {}): Promise<BuildKitWorker[]> {
    const response = await this.control.listWorkers({}, options)
    return response.record.map(toWorker)
  }

  /** Cache records, optionally filtered. */
  async diskUsage(options: BuildKitDiskUsageOptions = {}): Promise<BuildKitUsageRecord[]> {
    const response = await this.control.diskUsage({ filter: options.filters ?? [] }, callOptions(options))
    return response.record.map(toUsageRecord)
  }

  /**
   * Removes unused cache records and resolves with the ones removed.
   *
   * @throws InvalidArgumentError for a negative or non-integer `keepDurationMs`.
   */
  async prune(options: BuildKitPruneOptions = {}): Promise<BuildKitUsageRecord[]> {
    const keepMs = options.keepDurationMs ?? 0
    if (!Number.isSafeInteger(keepMs) || keepMs < 0) {
      throw new InvalidArgumentError(`keepDurationMs must be a whole number of milliseconds ≥ 0, got ${String(keepMs)}`)
    }
    const removed: BuildKitUsageRecord[] = []
    // keepDuration travels as Go's time.Duration: nanoseconds.
    const request = { all: options.all ?? false, filter: options.filters ?? [], keepDuration: BigInt(keepMs) * 1_000_000n }
    for await (const record of this.control.prune(request, callOptions(options))) removed.push(toUsageRecord(record))
    return removed
  }

  /** Closes the connection; calls afterwards fail with `UnavailableError`. Idempotent. */
  close(): void {
    this.channel.close()
  }

  /** Same as {@link BuildKit.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }
}

/** The `CallOptions` part of an options object (the rest must not reach the transport). */
function callOptions(options: CallOptions): CallOptions {
  const picked: CallOptions = {}
  if (options.signal !== undefined) picked.signal = options.signal
  if (options.timeoutMs !== undefined) picked.timeoutMs = options.timeoutMs
  return picked
}
