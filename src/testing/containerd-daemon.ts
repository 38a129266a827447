import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ClientCore } from '../client/client.js'
import { detachContainerNetwork, NETNS_LABEL } from '../network/container-network.js'
import { findContainerd, type ContainerdBinary, type ContainerdLine } from './containerd-binaries.js'
import { renderContainerdConfig } from './containerd-config.js'
import { unmountUnder } from './unmount.js'
import { killAndWait, processTable, withDescendants } from '../util/process-tree.js'

/** Options for {@link startContainerd}. */
export interface StartContainerdOptions {
  /** Which release line to start. Default `1.6` (the machine's own package). */
  version?: ContainerdLine
  /** A binary found earlier with `findContainerd`; overrides `version`. */
  binary?: ContainerdBinary
  /** Parent directory for the instance's temp dir. Default the OS temp dir. */
  baseDir?: string
  /** How long to wait for the socket to answer. Default 30 s. */
  readyTimeoutMs?: number
  /** The restart monitor's reconcile interval in milliseconds. Default containerd's (10 s). */
  restartMonitorIntervalMs?: number
  /**
   * PEM files of CAs the daemon trusts besides the system's, for registries it reaches itself (the
   * Transfer service). containerd 1.7's Transfer service reads no hosts.toml, so a private CA can only
   * reach it this way: the daemon gets `SSL_CERT_FILE` naming a bundle of the system's roots and these.
   * Go reads that file once, at the daemon's first TLS handshake, so the files must exist at start.
   */
  trustedCaFiles?: string[]
}

/** A private containerd started by {@link startContainerd}. `await using` stops it and removes its files. */
export interface ContainerdDaemon extends AsyncDisposable {
  /** The socket path to pass to `Client.connect({ address })`. */
  readonly address: string
  /** The instance's temp dir (root, state, config and log live inside). */
  readonly dir: string
  /** The binary that runs. */
  readonly binary: ContainerdBinary
  /** The daemon's pid. */
  readonly pid: number
  /** The daemon's log file (stdout and stderr). */
  readonly logFile: string
  /** Stops the daemon (SIGTERM, then SIGKILL after 10 s) without removing its files, e.g. to restart it. */
  kill(): Promise<void>
  /** Starts the daemon again on the same root, state and socket after {@link kill}. */
  restart(): Promise<void>
  /**
   * Stops the daemon, then kills its shims and everything below them (containers' processes, loggers)
   * and any process whose command line names its socket or directory, unmounts what it left mounted and
   * removes its temp dir. Idempotent.
   */
  stop(): Promise<void>
}

/**
 * Starts a private containerd under a new temp dir with its own root, state, socket and config (CRI
 * disabled), and resolves when the socket answers `Version`. Meant for tests, demos and benchmarks:
 * nothing is shared with the machine's own containerd. Needs root.
 */
export async function startContainerd(options: StartContainerdOptions = {}): Promise<ContainerdDaemon> {
  const binary = options.binary ?? (await findContainerd(options.version ?? '1.6'))
  const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), `csdk-ctd-${binary.line}-`))
  const paths = { root: join(dir, 'root'), state: join(dir, 'state'), address: join(dir, 'containerd.sock') }
  const configFile = join(dir, 'config.toml')
  const logFile = join(dir, 'containerd.log')
  await mkdir(paths.root, { recursive: true })
  const configOptions = options.restartMonitorIntervalMs === undefined ? {} : { restartMonitorIntervalMs: options.restartMonitorIntervalMs }
  await writeFile(configFile, renderContainerdConfig(binary.line, paths, configOptions))
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000
  const extraEnv = options.trustedCaFiles === undefined || options.trustedCaFiles.length === 0
    ? {}
    : { SSL_CERT_FILE: await writeCaBundle(join(dir, 'ca-bundle.pem'), options.trustedCaFiles) }

  let child: ChildProcess | undefined
  const launch = async (): Promise<void> => {
    const log = createWriteStream(logFile, { flags: 'a' })
    await new Promise<void>((resolve, reject) => { log.once('open', () => resolve()); log.once('error', reject) })
    child = spawn(binary.path, ['--config', configFile], {
      stdio: ['ignore', log, log],
      env: { ...process.env, ...extraEnv, PATH: `${binary.binDir}:${process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` },
    })
    child.once('exit', () => log.close())
    await waitReady(paths.address, child, logFile, readyTimeoutMs)
  }
  const kill = async (): Promise<void> => {
    const c = child
    child = undefined
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()))
    c.kill('SIGTERM')
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Networked containers hold things outside the daemon's dir (a network namespace, an address,
      // port rules): detached while the daemon can still list them.
      if (child !== undefined) await detachNetworks(paths.address).catch(() => undefined)
      await kill()
      await killShims(paths.address, dir)
      await unmountUnder(dir)
      await rm(dir, { recursive: true, force: true, maxRetries: 3 })
    })()
    return stopping
  }

  try {
    await launch()
  } catch (err) {
    await stop()
    throw err
  }
  return {
    address: paths.address,
    dir,
    binary,
    get pid() { return child?.pid ?? -1 },
    logFile,
    kill,
    restart: async () => { await kill(); await launch() },
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

/** Go's first system bundle on Debian and Fedora-likes; its directories are still read besides SSL_CERT_FILE. */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt']

async function writeCaBundle(file: string, caFiles: string[]): Promise<string> {
  const parts: string[] = []
  const system = process.env['SSL_CERT_FILE'] !== undefined && process.env['SSL_CERT_FILE'] !== '' ? [process.env['SSL_CERT_FILE']] : SYSTEM_BUNDLES
  for (const candidate of system) {
    const pem = await readFile(candidate, 'utf8').catch(() => undefined)
    if (pem !== undefined) {
      parts.push(pem)
      break
    }
  }
  for (const caFile of caFiles) parts.push(await readFile(caFile, 'utf8'))
  await writeFile(file, parts.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join(''))
  return file
}

async function waitReady(address: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`containerd exited during start-up (${child.exitCode ?? child.signalCode}); log:\n${await tail(logFile)}`)
    }
    try {
      const client = await ClientCore.connect({ address, timeoutMs: 2_000 })
      client.close()
      return
    } catch (err) {
      lastError = err
    }
    await sleep(50)
  }
  child.kill('SIGKILL')
  throw new Error(`containerd did not answer on ${address} within ${timeoutMs} ms (${String(lastError)}); log:\n${await tail(logFile)}`)
}

async function tail(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-30).join('\n')
  } catch {
    return '(no log)'
  }
}

/** Detaches every container the SDK attached to a network, in every namespace of the daemon (bounded: 30 s). */
async function detachNetworks(address: string): Promise<void> {
  const client = await ClientCore.connect({ address, timeoutMs: 5_000 })
  try {
    const signal = AbortSignal.timeout(30_000)
    for (const { name } of (await client.services.namespaces.list({}, { signal })).namespaces) {
      const view = client.withNamespace(name)
      for (const c of (await view.services.containers.list({ filters: [`labels."${NETNS_LABEL}"`] }, { signal })).containers) {
        await detachContainerNetwork(view, c.id, c.labels, true).catch(() => undefined)
      }
    }
  } finally {
    client.close()
  }
}

/**
 * Kills everything that ran in a daemon: its runc shims (they outlive containerd by design, and they keep
 * the container's mounts busy) with every process below them (the containers' processes and their
 * binary loggers, which would otherwise be left running under PID 1), then any process left whose command
 * line names the daemon's socket or directory. Shims are recognised by the daemon's socket in their
 * command line.
 */
async function killShims(address: string, dir: string): Promise<void> {
  const table = await processTable()
  const shims = [...table].filter(([, p]) => p.cmdline[0]?.includes('containerd-shim') === true && p.cmdline.includes(address)).map(([pid]) => pid)
  // Below the shims, by parent pid (a shim is its containers' subreaper, so they stay its descendants).
  const doomed = withDescendants(table, shims)
  // Never this process or those that started it (a test runner may name the directory in its arguments).
  const ancestors = new Set<number>()
  for (let pid: number | undefined = process.pid; pid !== undefined && pid > 0 && !ancestors.has(pid); pid = table.get(pid)?.ppid) ancestors.add(pid)
  for (const [pid, p] of table) {
    if (!ancestors.has(pid) && p.cmdline.some((arg) => arg.includes(address) || arg.includes(dir))) doomed.add(pid)
  }
  for (const pid of ancestors) doomed.delete(pid)
  // Bounded wait for them to be gone, so the unmount and removal that follow do not find them busy.
  await killAndWait(doomed)
}
