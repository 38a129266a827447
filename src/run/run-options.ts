import { InvalidArgumentError } from '../client/errors.js'
import type { CreateContainerOptions } from '../containers/create-container.js'
import type { RestartPolicy } from '../containers/restart-policy.js'
import type { PullOptions } from '../images/pull.js'
import type { JsonFileLogOptions } from '../logs/log-config.js'
import type { TaskStdio } from '../tasks/task-io.js'

/** When `run()` pulls the image: `missing` (default) only when it is not in the namespace. */
export type PullPolicy = 'missing' | 'always' | 'never'

/**
 * The network a `run()` container gets. `none`: a network namespace of its own with only loopback.
 * `host`: the host's network. `bridge` (nerdctl's default) needs the networking part of the SDK, which is
 * not there yet: asking for it is an error, so the default is `none` for now.
 */
export type NetworkMode = 'none' | 'host' | 'bridge'

/** Options of `client.run()`: everything `createContainer` takes, plus the `docker run` behaviour. */
export interface RunOptions extends Omit<CreateContainerOptions, 'image'> {
  /** The container name (unique in the namespace; nerdctl's name store). Default: image base name + `-` + 5 id chars. */
  name?: string
  /**
   * Return once the container is running (`docker run -d`) instead of waiting for it to exit. Its output
   * then goes to the json-file log (read it with `client.logs()`). Default false.
   */
  detach?: boolean
  /** Remove the container (record, snapshot, name, state dir) once it exited (`--rm`). Not with `detach` or `restart`. */
  rm?: boolean
  /** When to pull the image. Default `missing`. */
  pull?: PullPolicy
  /** Options for the pull (platform, auth, progress…). */
  pullOptions?: Omit<PullOptions, 'signal'>
  /**
   * Where an attached run's stdio goes. Default `'inherit'`. With `'pipe'` the output is collected and
   * returned. A detached run always logs to the json-file log.
   */
  stdio?: Exclude<TaskStdio, { terminal: true }>
  /** Restart policy for a detached container (`--restart`); containerd's restart monitor applies it. Default `no`. */
  restart?: RestartPolicy
  /** The network. Default `none` (see {@link NetworkMode}). */
  network?: NetworkMode
  /** json-file log rotation for a detached container (`--log-opt max-size=… max-file=…`). */
  logOptions?: JsonFileLogOptions
  /** Seconds `stop()` waits before SIGKILL (`--stop-timeout`), kept in the container's labels. */
  stopTimeout?: number
}

/**
 * Checks the option combinations `nerdctl run` refuses, before anything is pulled or created.
 * @throws InvalidArgumentError naming the conflict.
 */
export function checkRunOptions(options: RunOptions): void {
  if (options.detach === true && options.rm === true) {
    throw new InvalidArgumentError('detach and rm cannot be combined: nothing would be left running to remove the container when it exits')
  }
  const restart = options.restart ?? 'no'
  if (restart !== 'no' && options.rm === true) throw new InvalidArgumentError(`restart ${restart} and rm cannot be combined`)
  if (restart !== 'no' && options.detach !== true) throw new InvalidArgumentError(`restart ${restart} needs detach: true (an attached run ends when the process exits)`)
  const network = options.network ?? 'none'
  if (network === 'bridge') {
    throw new InvalidArgumentError("network 'bridge' is not available yet (CNI networking comes with the SDK's network part): use 'none' or 'host'")
  }
  if (network !== 'none' && network !== 'host') throw new InvalidArgumentError(`network must be 'none' or 'host', got ${JSON.stringify(network)}`)
  const pull = options.pull ?? 'missing'
  if (!['missing', 'always', 'never'].includes(pull)) throw new InvalidArgumentError(`pull must be 'missing', 'always' or 'never', got ${JSON.stringify(pull)}`)
  if (options.tty === true) throw new InvalidArgumentError('run() does not attach terminals yet: use createContainer({ tty: true }) and newTask({ stdio: { terminal: true } })')
  if (options.stopTimeout !== undefined && (!Number.isFinite(options.stopTimeout) || options.stopTimeout < 0)) {
    throw new InvalidArgumentError(`stopTimeout must be a number of seconds ≥ 0, got ${String(options.stopTimeout)}`)
  }
}
