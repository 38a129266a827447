import { InvalidArgumentError } from '../grpc/errors.js'
import { checkOptionKeys, closestKey, describe, keysOf, omitKeys } from '../client/option-check.js'
import { checkContainerOptionShapes, CREATE_CONTAINER_OPTION_KEYS, type CreateContainerOptions } from '../containers/create-container.js'
import type { RestartPolicy } from '../containers/restart-policy.js'
import { checkPullOptions, PULL_OPTION_KEYS, type PullOptions } from '../images/pull.js'
import type { JsonFileLogOptions } from '../logs/log-config.js'
import type { Readable, Writable } from 'node:stream'
import type { LogFileStdio, LogUriStdio } from '../tasks/task-io.js'
import { isReadableStream, isWritableStream } from '../tasks/stream-shape.js'
import { validateContainerName } from '../nerdctl/name-store.js'
import { parseNetworkOption } from '../network/network-option.js'

// The call, as messages name it.
const WHERE = 'run()'

/** When `run()` pulls the image: `missing` (default) only when it is not in the namespace. */
export type PullPolicy = 'missing' | 'always' | 'never'

/**
 * The network a `run()` container gets, nerdctl's `--network`:
 * - `bridge` (the default): the default network, nerdctl's `bridge` on `nerdctl0` (10.4.0.0/24), made on
 *   first use;
 * - the name of a network made with `client.networks.create()` (or nerdctl's `network create`), or a list
 *   of them (the first is `eth0`);
 * - `host`: the host's network; `none`: a network namespace with only loopback;
 * - `container:<name|id>`: another container's network namespace, hosts, resolv.conf and hostname;
 * - `ns:<path>`: an existing network namespace bind-mounted at `path`.
 */
export type NetworkMode = 'bridge' | 'host' | 'none' | `container:${string}` | `ns:${string}` | (string & {})

/**
 * Your own Node streams for an attached `run()`: the output is copied into the Writables (not ended) and
 * the json-file log; a given Readable feeds stdin when `interactive` (see {@link RunOptions.interactive}).
 */
export interface RunStreams {
  /** Fed to the process's stdin. */
  stdin?: Readable
  /** Receives the process's stdout. */
  stdout?: Writable
  /** Receives the process's stderr. */
  stderr?: Writable
}

/**
 * Where an attached `run()`'s stdio goes (see {@link RunOptions.stdio}): a task's stdio except a bare
 * terminal, which `tty` asks for instead, and `'pipe'` per stream (`'pipe'` as a whole collects the output
 * and returns it).
 */
export type RunStdio = 'null' | 'pipe' | 'inherit' | LogFileStdio | LogUriStdio | RunStreams

/** Options of `client.run()`: everything `createContainer` takes, plus the `docker run` behaviour. */
export interface RunOptions extends Omit<CreateContainerOptions, 'image'> {
  /** The container name (unique in the namespace; nerdctl's name store). Default: image base name + `-` + 5 id chars. */
  name?: string
  /**
   * Return once the container is running (`docker run -d`) instead of waiting for it to exit. Its output
   * then goes only to the json-file log (read it with `client.logs()`). Default false.
   */
  detach?: boolean
  /**
   * Run the process on a pseudo-terminal (`-t`): stdout and stderr arrive joined on stdout (with the
   * terminal's `\r\n` line ends), and the process sees a terminal. Attached, the output goes to `stdio` and
   * the json-file log; the terminal takes the size of the stdout it is shown on (`process.stdout` with
   * `'inherit'`, or a Writable of yours carrying `columns` and `rows`, like a `tty.WriteStream`) and follows
   * its `'resize'` events. Detached, the shim keeps the terminal and its logger gets the output. Default false.
   */
  tty?: boolean
  /**
   * Keep stdin open and feed it (`-i`): with `stdio: 'inherit'` this process's stdin (put in raw mode while
   * the run lasts when it is a terminal and `tty` is set, so keys such as Ctrl-C reach the container).
   * A `stdio: { stdin }` stream is fed without this flag. When the input ends the process reads EOF
   * (with a terminal, the terminal is hung up). With `detach` it needs `tty`, as in nerdctl (the shim
   * then holds the terminal open; nothing is fed). Default false.
   */
  interactive?: boolean
  /** Remove the container (record, snapshot, name, state dir) once it exited (`--rm`). Not with `detach` or `restart`. */
  rm?: boolean
  /** When to pull the image. Default `missing`. */
  pull?: PullPolicy
  /** Options for the pull (platform, auth, progress…). */
  pullOptions?: Omit<PullOptions, 'signal'>
  /**
   * Where an attached run's output goes. Default `'inherit'` (this process's stdout and stderr). With
   * `'pipe'` it is collected and returned; `{ stdin?, stdout?, stderr? }` gives your own streams (never
   * ended); `'null'` drops it. Whichever it is, the output also goes to the container's json-file log, as
   * in nerdctl, so `client.logs()` shows it after the run; except with `{ logUri }`, which hands it to that
   * logging URI instead (the container then has no json-file log, label or `log-config.json`). A detached
   * run always logs to the json-file log only. Your Writables get the output with backpressure: while the
   * process runs, one that is not read holds the process back (as a pipe would), and the json-file log
   * with it; once the process exited they are waited for, except one that takes no chunk for 30 s, which
   * is let go of so `run()` cannot hang after the exit. `'pipe'` for one
   * stream is refused (use `'pipe'` as a whole); a `{ logFile }` that cannot be opened fails the run before
   * anything is made.
   */
  stdio?: RunStdio
  /**
   * With `stdio: 'pipe'`: the most bytes collected of stdout, and of stderr (each), like
   * `child_process.execFile`'s option, with its default: 1 MiB (`1024 * 1024`). One byte more and the
   * container's processes are killed (SIGKILL) and `run()` rejects with `ResourceExhaustedError`
   * ("stdout exceeded maxBuffer (1048576 bytes)"), the container removed with `rm`, else kept, stopped;
   * memory stays bounded however much the process writes (the json-file log still gets the output up to
   * the kill). `Infinity` for no limit. Ignored with other stdio, whose output is not kept in memory.
   */
  maxBuffer?: number
  /** Restart policy for a detached container (`--restart`); containerd's restart monitor applies it. Default `no`. */
  restart?: RestartPolicy
  /** The network, or networks in order. Default `bridge` (see {@link NetworkMode}). */
  network?: NetworkMode | NetworkMode[]
  /**
   * Ports to publish (`-p`): `'127.0.0.1:18080:8080'`, `'8080'` (a free host port is chosen: see
   * `container.ports()`), `'18080:8080'`, `'53:53/udp'`, `'8000-8005:9000-9005'`. Without a host address
   * they listen on every address, as Docker's do. A host port in use is a `ConflictError` before
   * anything is made. Not with `host`, `none` or `container:` networks.
   */
  ports?: string[]
  /** DNS servers for the container's resolv.conf (`--dns`). Default: the host's, without localhost ones. */
  dns?: string[]
  /** DNS search domains (`--dns-search`). Default: the host's. */
  dnsSearch?: string[]
  /** resolv.conf options (`--dns-option`), e.g. `ndots:2`. Default: the host's. */
  dnsOptions?: string[]
  /** Extra `/etc/hosts` entries (`--add-host`), `'name:ip'`. */
  addHosts?: string[]
  /** A static IPv4 address on the first network (`--ip`), inside its subnet. */
  ip?: string
  /** A static MAC address on the first network (`--mac-address`). */
  mac?: string
  /**
   * Volumes (`-v`): `'name:/path'` (a named volume, made when missing, the image's content at `/path`
   * copied into a new one), `'/host/dir:/path:ro'` (a bind mount; `ro`/`rw` and a propagation such as
   * `rshared`), `'/path'` (an anonymous volume). The image's `VOLUME`s get anonymous volumes too.
   */
  volumes?: string[]
  /** json-file log rotation (`--log-opt max-size=… max-file=…`). */
  logOptions?: JsonFileLogOptions
  /** Seconds `stop()` waits before SIGKILL (`--stop-timeout`), kept in the container's labels. */
  stopTimeout?: number
}

/** The keys of {@link RunOptions}, for the run-time check in {@link checkRunOptions}. */
export const RUN_OPTION_KEYS = keysOf<RunOptions>()({
  ...omitKeys(CREATE_CONTAINER_OPTION_KEYS, 'image'),
  name: true,
  detach: true,
  tty: true,
  interactive: true,
  rm: true,
  pull: true,
  pullOptions: true,
  stdio: true,
  maxBuffer: true,
  restart: true,
  network: true,
  ports: true,
  dns: true,
  dnsSearch: true,
  dnsOptions: true,
  addHosts: true,
  ip: true,
  mac: true,
  volumes: true,
  logOptions: true,
  stopTimeout: true,
})

/** The keys of `RunOptions.logOptions`. */
export const JSON_FILE_LOG_OPTION_KEYS = keysOf<JsonFileLogOptions>()({ maxSize: true, maxFile: true, address: true })

/**
 * Checks a `run()` options object before anything is pulled or created: known keys only (a typo such as
 * `memroy` would otherwise run without a memory limit), values of the right shape (`args: 'sleep 30'`
 * would run `s`), the nested `pullOptions`, `logOptions` and `stdio` objects likewise, a `name` by
 * Docker's rule and length limit, and the option combinations `nerdctl run` refuses.
 * @throws InvalidArgumentError naming the unknown key and the closest known one, the value and the fix,
 *   or the conflict.
 */
export function checkRunOptions(options: RunOptions): void {
  checkOptionKeys(options, RUN_OPTION_KEYS, WHERE)
  checkContainerOptionShapes(options, WHERE)
  checkPullOptions(options.pullOptions, `${WHERE} pullOptions`, omitKeys(PULL_OPTION_KEYS, 'signal'))
  checkOptionKeys(options.logOptions, JSON_FILE_LOG_OPTION_KEYS, `${WHERE} logOptions`)
  if (options.name !== undefined && typeof options.name !== 'string') throw new InvalidArgumentError(`${WHERE} name must be a string, got ${describe(options.name)}`)
  // Checked here, not only when the name store takes it: a bad name must fail before a pull (which may
  // be long, or wait on an unreachable registry) rather than after it.
  if (options.name !== undefined) validateContainerName(options.name)
  if (options.detach === true && options.rm === true) {
    throw new InvalidArgumentError('detach and rm cannot be combined: nothing would be left running to remove the container when it exits')
  }
  const restart = options.restart ?? 'no'
  if (restart !== 'no' && options.rm === true) throw new InvalidArgumentError(`restart ${restart} and rm cannot be combined`)
  if (restart !== 'no' && options.detach !== true) throw new InvalidArgumentError(`restart ${restart} needs detach: true (an attached run ends when the process exits)`)
  checkNetworkOptions(options)
  const pull = options.pull ?? 'missing'
  if (!['missing', 'always', 'never'].includes(pull)) throw new InvalidArgumentError(`pull must be 'missing', 'always' or 'never', got ${JSON.stringify(pull)}`)
  checkRunStdio(options)
  if (options.stopTimeout !== undefined && (!Number.isFinite(options.stopTimeout) || options.stopTimeout < 0)) {
    throw new InvalidArgumentError(`stopTimeout must be a number of seconds ≥ 0, got ${String(options.stopTimeout)}`)
  }
}

/** The stdio, tty and interactive combinations an attached or detached run can honour. */
function checkRunStdio(options: RunOptions): void {
  const { tty = false, interactive = false, detach = false } = options
  for (const [name, value] of [['tty', options.tty], ['interactive', options.interactive]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw new InvalidArgumentError(`${name} must be a boolean, got ${JSON.stringify(value)}`)
  }
  if (detach) {
    if (interactive && !tty) {
      throw new InvalidArgumentError('interactive with detach needs tty: true (without a terminal nothing would keep the detached process\'s stdin open)')
    }
    return
  }
  const stdio = options.stdio ?? 'inherit'
  if (stdio === null || (typeof stdio !== 'string' && typeof stdio !== 'object')) {
    throw new InvalidArgumentError(`stdio must be 'inherit', 'pipe', 'null', { stdin?, stdout?, stderr? }, { logFile } or { logUri }, got ${JSON.stringify(stdio)}`)
  }
  if (typeof stdio === 'object' && 'terminal' in stdio) {
    throw new InvalidArgumentError('stdio { terminal: true } is not a run() stdio: set tty: true, and stdio to where the terminal\'s output should go')
  }
  if (typeof stdio === 'string' && !['inherit', 'pipe', 'null'].includes(stdio)) {
    throw new InvalidArgumentError(`stdio must be 'inherit', 'pipe', 'null', { stdin?, stdout?, stderr? }, { logFile } or { logUri }, got ${JSON.stringify(stdio)}`)
  }
  if (typeof stdio === 'object' && 'logFile' in stdio) checkOnly(stdio, 'logFile', 'a non-empty path')
  if (typeof stdio === 'object' && 'logUri' in stdio) checkOnly(stdio, 'logUri', 'a binary:// or file:// URI')
  const streams = typeof stdio === 'object' && !('logFile' in stdio) && !('logUri' in stdio) ? stdio : undefined
  if (streams !== undefined) checkRunStreams(streams)
  if (interactive && stdio !== 'inherit' && streams?.stdin === undefined) {
    throw new InvalidArgumentError(`interactive needs an input: stdio 'inherit' (this process's stdin) or { stdin: <Readable> }; stdio is ${typeof stdio === 'string' ? `'${stdio}'` : JSON.stringify(Object.keys(stdio))}`)
  }
  if (tty && streams?.stderr !== undefined) {
    throw new InvalidArgumentError('with tty the terminal joins stderr into stdout: leave stderr out of stdio')
  }
}

const STREAM_KEYS = ['stdin', 'stdout', 'stderr'] as const

/** The keys of {@link RunStreams}. */
export const RUN_STREAM_KEYS = keysOf<RunStreams>()({ stdin: true, stdout: true, stderr: true })

/**
 * `{ stdin?, stdout?, stderr? }`: known keys only, a Readable and Writables (the shape `newTask` checks
 * too). `'pipe'` per stream, which a task's stdio takes, is refused: run() has no task to put a Readable
 * on until it resolves, and `stdio: 'pipe'` collects the output instead.
 */
function checkRunStreams(streams: RunStreams): void {
  const unknown = Object.keys(streams).find((k) => !Object.hasOwn(RUN_STREAM_KEYS, k))
  if (unknown !== undefined) {
    // logFile and logUri are suggested too, so that `{ logfile }` is pointed at `logFile`.
    const close = closestKey(unknown, [...Object.keys(RUN_STREAM_KEYS), 'logFile', 'logUri'])
    throw new InvalidArgumentError(
      `stdio: unknown key ${JSON.stringify(unknown)}${close === undefined ? '' : ` (did you mean '${close}'?)`}; want { stdin?, stdout?, stderr? } streams, { logFile } or { logUri }`,
    )
  }
  for (const key of STREAM_KEYS) {
    const value: unknown = streams[key]
    if (value === undefined) continue
    if (value === 'pipe') {
      throw new InvalidArgumentError(`stdio { ${key}: 'pipe' } is not a run() stdio: use stdio: 'pipe' to collect the output (run() returns it as stdout and stderr), or give a ${key === 'stdin' ? 'Readable' : 'Writable'}`)
    }
    if (!(key === 'stdin' ? isReadableStream(value) : isWritableStream(value))) {
      throw new InvalidArgumentError(`stdio ${key} must be a ${key === 'stdin' ? 'Readable' : 'Writable'} stream, got ${value === null ? 'null' : typeof value}`)
    }
  }
}

/** `{ logFile }` or `{ logUri }`: that one key, a non-empty string. */
function checkOnly(stdio: object, key: string, what: string): void {
  const value: unknown = (stdio as Record<string, unknown>)[key]
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(`stdio ${key} must be ${what}, got ${JSON.stringify(value)}`)
  const other = Object.keys(stdio).find((k) => k !== key)
  if (other !== undefined) throw new InvalidArgumentError(`stdio { ${key} } takes no other key, got ${JSON.stringify(other)}`)
}

/** The networking options: shapes, and the combinations nerdctl refuses. */
function checkNetworkOptions(options: RunOptions): void {
  for (const key of ['ports', 'dns', 'dnsSearch', 'dnsOptions', 'addHosts', 'volumes'] as const) {
    const value: unknown = options[key]
    if (value !== undefined && (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))) {
      throw new InvalidArgumentError(`${WHERE} ${key} must be a list of strings, got ${describe(value)}`)
    }
  }
  for (const key of ['ip', 'mac'] as const) {
    const value: unknown = options[key]
    if (value !== undefined && typeof value !== 'string') throw new InvalidArgumentError(`${WHERE} ${key} must be a string, got ${describe(value)}`)
  }
  const choice = parseNetworkOption(options.network)
  if (choice.kind === 'networks') return
  const refused: string[] = (['ports', 'ip', 'mac'] as const).filter((k) => options[k] !== undefined && (k !== 'ports' || (options.ports?.length ?? 0) > 0))
  // `container:` shares another container's namespace and files: nothing of its own to set.
  if (choice.kind === 'container') refused.push(...(['dns', 'dnsSearch', 'dnsOptions', 'addHosts', 'hostname'] as const).filter((k) => options[k] !== undefined))
  if (refused.length > 0) {
    const network = typeof options.network === 'string' ? options.network : JSON.stringify(options.network)
    throw new InvalidArgumentError(`${refused.join(', ')} cannot be set with network ${network}: ${choice.kind === 'container' ? 'the container shares another container\'s network' : 'it has no network of its own to publish on'}`)
  }
}
