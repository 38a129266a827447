/**
 * Runs one CNI plugin once (CNI spec §"Protocol"): parameters in `CNI_*` environment variables, the
 * configuration on stdin, the result (or an error result) on stdout.
 */

import { inHostMountNamespace } from '../host-mount-ns.js'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { canceledError } from '../../grpc/abort.js'
import { DeadlineExceededError } from '../../grpc/errors.js'
import { CniError, pluginFailure, type PluginRun } from './cni-error.js'

/** The most a plugin may print on stdout or on stderr: a result is a few KiB; more is a broken plugin. */
export const MAX_PLUGIN_OUTPUT = 1024 * 1024

/** One run of one plugin. */
export interface PluginExec extends PluginRun {
  /** The plugin binary. */
  path: string
  /** `CNI_CONTAINERID`. */
  containerId: string
  /** `CNI_NETNS`: empty on DEL when the namespace is gone (the spec allows it). */
  netns: string
  /** `CNI_IFNAME`. */
  ifName: string
  /** `CNI_ARGS`, already joined. */
  cniArgs: string
  /** `CNI_PATH`: the plugin directories, for plugins that delegate (bridge → host-local). */
  cniPath: string
  /** The configuration written to stdin. */
  stdin: string
  /** When the call's deadline passes, in `performance.now()` milliseconds. */
  deadline: number
  /** The caller's signal. */
  signal?: AbortSignal | undefined
}

// sbin directories a plugin needs on PATH (bridge, portmap and firewall run iptables, ip6tables and
// sysctl), added when the caller's PATH lacks them, as a non-login root shell's often does.
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin']

/** The PATH given to plugins: the caller's, plus the sbin directories it lacks. */
export function pluginPathVariable(callerPath: string | undefined): string {
  const dirs = (callerPath ?? '').split(':').filter((d) => d !== '')
  for (const dir of SBIN_DIRS) if (!dirs.includes(dir)) dirs.push(dir)
  return dirs.join(':')
}

/** The environment of a plugin run: only the CNI variables and PATH, so nothing of the caller's leaks in. */
export function pluginEnvironment(run: Pick<PluginExec, 'command' | 'containerId' | 'netns' | 'ifName' | 'cniArgs' | 'cniPath'>): Record<string, string> {
  return {
    CNI_COMMAND: run.command,
    CNI_CONTAINERID: run.containerId,
    CNI_NETNS: run.netns,
    CNI_IFNAME: run.ifName,
    CNI_ARGS: run.cniArgs,
    CNI_PATH: run.cniPath,
    PATH: pluginPathVariable(process.env['PATH']),
  }
}

// A binary that was just written (a plugin being installed) cannot be executed until every writer
// closed it: the kernel answers ETXTBSY. libcni retries 5 times, a second apart; so do we, briefly.
const TEXT_BUSY_RETRIES = 5
const TEXT_BUSY_DELAY_MS = 200

/**
 * Runs the plugin and reads its answer.
 * @returns the parsed stdout, or undefined when the plugin printed nothing (DEL and CHECK usually do not).
 * @throws CniError for a plugin that cannot be started, fails (with its error result), prints too
 *   much (ResourceExhausted) or prints something that is not JSON; DeadlineExceededError when the
 *   deadline passes and CanceledError (cause: `signal.reason`) when the signal aborts, after killing it.
 */
export async function execPlugin(run: PluginExec): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await execOnce(run)
    } catch (err) {
      const busy = err instanceof CniError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ETXTBSY'
      if (!busy || attempt >= TEXT_BUSY_RETRIES) throw err
    }
    await sleep(TEXT_BUSY_DELAY_MS)
  }
}

function execOnce(run: PluginExec): Promise<unknown> {
  const what = `CNI plugin ${run.plugin} ${run.command}${run.network === undefined ? '' : ` on network ${run.network}`}`
  const { signal } = run
  if (signal?.aborted === true) return Promise.reject(canceledError(signal, what))
  const remaining = run.deadline - performance.now()
  if (remaining <= 0) return Promise.reject(new DeadlineExceededError(`${what}: the deadline had passed before the plugin ran`))

  return new Promise<unknown>((resolve, reject) => {
    let child: ChildProcessWithoutNullStreams
    try {
      // In the host's mount namespace, where the container's network namespace is mounted (host-mount-ns.ts).
      const [program, argv] = inHostMountNamespace(run.path, [])
      child = spawn(program, argv, { env: pluginEnvironment(run), stdio: ['pipe', 'pipe', 'pipe'] })
    } catch (err) {
      // spawn throws (rather than emitting 'error') for arguments it refuses, e.g. a NUL byte in the environment.
      reject(new CniError('InvalidArgument', `${what}: cannot run ${run.path}: ${err instanceof Error ? err.message : String(err)}`, { plugin: run.plugin, command: run.command, network: run.network, cause: err }))
      return
    }
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    const size = { stdout: 0, stderr: 0 }
    // Why the plugin was killed by us (deadline, abort, too much output): that, not its exit, is the error.
    let killedFor: Error | undefined
    let spawnError: Error | undefined
    let settled = false

    const kill = (reason: Error): void => {
      killedFor ??= reason
      // SIGKILL: a plugin stuck on a lock or a netlink call must not outlive the call that gave up on it.
      child.kill('SIGKILL')
      // 'close' waits for the pipes too, which a process the plugin started may still hold open.
      child.stdout.destroy()
      child.stderr.destroy()
    }
    const timer = setTimeout(() => kill(new DeadlineExceededError(`${what}: the deadline passed; the plugin was killed`)), remaining)
    const onAbort = (): void => kill(signal === undefined ? new Error('aborted') : canceledError(signal, what))
    signal?.addEventListener('abort', onAbort, { once: true })

    const finish = (err: Error | undefined, value?: unknown): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (err !== undefined) reject(err)
      else resolve(value)
    }

    const collect = (stream: 'stdout' | 'stderr', chunks: Buffer[]) => (chunk: Buffer) => {
      size[stream] += chunk.length
      if (size[stream] > MAX_PLUGIN_OUTPUT) {
        kill(new CniError('ResourceExhausted', `${what}: the plugin printed more than ${MAX_PLUGIN_OUTPUT} bytes on ${stream}; it was killed`, { plugin: run.plugin, command: run.command, network: run.network }))
        return
      }
      chunks.push(chunk)
    }
    child.stdout.on('data', collect('stdout', stdout))
    child.stderr.on('data', collect('stderr', stderr))
    // Stream errors end in 'close' like everything else; listening keeps them from being thrown.
    child.stdout.on('error', () => {})
    child.stderr.on('error', () => {})
    // EPIPE when a plugin exits without reading its configuration: its exit status tells why.
    child.stdin.on('error', () => {})

    child.on('error', (err) => {
      // A spawn failure (ENOENT, EACCES, ETXTBSY) leaves no process: there is no exit to wait for.
      if (child.pid === undefined) {
        finish(new CniError('FailedPrecondition', `${what}: cannot run ${run.path}: ${err.message}`, { plugin: run.plugin, command: run.command, network: run.network, cause: err }))
      } else {
        spawnError ??= err
      }
    })

    child.on('close', (code, exitSignal) => {
      if (killedFor !== undefined) return finish(killedFor)
      const out = Buffer.concat(stdout).toString('utf8')
      if (code !== 0) {
        return finish(pluginFailure(run, out, Buffer.concat(stderr).toString('utf8'), { code, signal: exitSignal }))
      }
      if (spawnError !== undefined) {
        return finish(new CniError('Unknown', `${what}: ${spawnError.message}`, { plugin: run.plugin, command: run.command, network: run.network, cause: spawnError }))
      }
      if (out.trim() === '') return finish(undefined, undefined)
      try {
        finish(undefined, JSON.parse(out) as unknown)
      } catch (err) {
        const shown = out.length > 200 ? `${out.slice(0, 200)}…` : out
        finish(new CniError('Unknown', `${what}: the plugin printed output that is not JSON: ${JSON.stringify(shown)}`, { plugin: run.plugin, command: run.command, network: run.network, cause: err }))
      }
    })

    child.stdin.end(run.stdin)
  })
}
