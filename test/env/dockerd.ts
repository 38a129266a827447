import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { access, appendFile, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { containerdCacheDir, startContainerd, type ContainerdDaemon, type ContainerdLine } from '../../src/testing/index.js'
import { unmountUnder } from '../../src/testing/unmount.js'

const TRUST_KEY = '/etc/docker/key.json'
const RUN_DIR = '/run/docker'
const PLUGIN_DIR = '/run/docker/plugins'

/** The dockerd lines the BuildKit tests run against: 20.10 embeds BuildKit v0.8, 28.5 a current one. */
export type DockerdLine = '20.10' | '28.5'

/** A private dockerd on its own containerd, started by {@link startDockerd}. */
export interface DockerdDaemon extends AsyncDisposable {
  /** The API socket's path. */
  readonly socketPath: string
  /** The BuildKit address for it: `docker://unix://<socket>`. */
  readonly buildkitAddress: string
  /** The release line. */
  readonly line: DockerdLine
  /** The socket of the private containerd dockerd runs on (dockerd's own namespace there is `moby`). */
  readonly containerdAddress: string
  /** Stops dockerd, then its containerd, unmounts and removes every file. Idempotent. */
  stop(): Promise<void>
}

/** Options for {@link startDockerd}. */
export interface StartDockerdOptions {
  /** The containerd line dockerd runs on (a private instance of it). Default 1.6, bookworm's. */
  containerdLine?: ContainerdLine
  /** How long to wait for `/_ping`. Default 60 s. */
  readyTimeoutMs?: number
  /**
   * Use the containerd image store (28.5 only): BuildKit's worker is then a containerd one and every
   * exporter works, as on a buildkitd. Default: the classic store (`moby`, `local`, `tar` exporters only).
   */
  containerdImageStore?: boolean
}

/** Where each line's dockerd lives: bookworm's installed one, sid's unpacked by test/env/install.sh. */
export function dockerdBinary(line: DockerdLine): string {
  return line === '20.10' ? '/usr/sbin/dockerd' : join(containerdCacheDir(), 'docker-28.5', 'usr', 'sbin', 'dockerd')
}

/** Whether that line's dockerd is on this machine (test/env/install.sh puts both there). */
export async function hasDockerd(line: DockerdLine): Promise<boolean> {
  return exists(dockerdBinary(line))
}

function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false)
}

/**
 * Starts a private containerd and a dockerd on it, each under its own temp dir: own data root, exec
 * root, API socket and pid file, no bridge and no iptables rules, nothing shared with the machine. Resolves
 * when `/_ping` answers. Needs root.
 */
export async function startDockerd(line: DockerdLine, options: StartDockerdOptions = {}): Promise<DockerdDaemon> {
  if (options.containerdImageStore === true && line !== '28.5') throw new Error(`the containerd image store needs dockerd 28.5, not ${line}`)
  const binary = dockerdBinary(line)
  if (!(await hasDockerd(line))) throw new Error(`dockerd ${line} is not at ${binary}: run test/env/install.sh (as root) first`)
  const dir = await mkdtemp(join(tmpdir(), `csdk-dockerd-${line}-`))
  let containerd: ContainerdDaemon
  try {
    containerd = await startContainerd({ version: options.containerdLine ?? '1.6' })
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  const socketPath = join(dir, 'docker.sock')
  const logFile = join(dir, 'dockerd.log')
  const configFile = join(dir, 'daemon.json')
  // A config file of our own: the machine's /etc/docker/daemon.json must not apply.
  const config = options.containerdImageStore === true ? { features: { 'containerd-snapshotter': true } } : {}
  await writeFile(configFile, `${JSON.stringify(config)}\n`)
  const args = [
    '--config-file', configFile,
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '-H', `unix://${socketPath}`,
    '--pidfile', join(dir, 'docker.pid'),
    '--containerd', containerd.address,
    '--bridge=none', '--iptables=false', '--ip6tables=false',
  ]
  // 20.10 writes a trust key to /etc/docker/key.json and Debian's build has no flag to move it: when the
  // file was not there before, it is ours and goes on stop.
  const trustKeyIsOurs = line === '20.10' && !(await exists(TRUST_KEY))
  // Likewise /run/docker/plugins (plugin discovery, a fixed path): removed on stop when we made it, if empty.
  const pluginDirIsOurs = !(await exists(PLUGIN_DIR))
  const runDirIsOurs = !(await exists(RUN_DIR))
  const binDir = join(binary, '..', '..', 'bin')
  const logFd = openSync(logFile, 'a')
  const child: ChildProcess = spawn(binary, args, {
    stdio: ['ignore', logFd, logFd],
    // sid's docker-init and docker-proxy sit beside its dockerd, not on PATH.
    env: { ...process.env, PATH: `${join(binary, '..')}:${binDir}:${process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` },
  })
  closeSync(logFd)
  // A spawn failure arrives as an event; unhandled it would take the test process down.
  child.once('error', (err) => { void appendFile(logFile, `spawn failed: ${String(err)}\n`).catch(() => undefined) })

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
        await exited
        clearTimeout(timer)
      }
      await containerd.stop()
      // dockerd's overlay mounts and the exec root's netns/shm mounts outlive it when it is killed.
      await unmountUnder(dir)
      await rm(dir, { recursive: true, force: true, maxRetries: 3 })
      if (trustKeyIsOurs) await rm(TRUST_KEY, { force: true })
      if (pluginDirIsOurs) {
        // rmdir, not rm -r: a dockerd started meanwhile by someone else may have put something there.
        await rmdir(PLUGIN_DIR).catch(() => undefined)
        if (runDirIsOurs) await rmdir(RUN_DIR).catch(() => undefined)
      }
    })()
    return stopping
  }

  try {
    await waitPing(socketPath, child, logFile, options.readyTimeoutMs ?? 60_000)
  } catch (err) {
    await stop()
    throw err
  }
  return { socketPath, buildkitAddress: `docker://unix://${socketPath}`, line, containerdAddress: containerd.address, stop, [Symbol.asyncDispose]: stop }
}

async function waitPing(socketPath: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`dockerd exited during start-up (${child.exitCode ?? child.signalCode}); log:\n${await tail(logFile)}`)
    }
    try {
      if (await ping(socketPath)) return
    } catch (err) {
      last = err
    }
    await sleep(100)
  }
  throw new Error(`dockerd did not answer /_ping on ${socketPath} within ${timeoutMs} ms (${String(last)}); log:\n${await tail(logFile)}`)
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2_000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.once('timeout', () => req.destroy(new Error('timeout')))
    req.once('error', reject)
    req.end()
  })
}

async function tail(file: string): Promise<string> {
  return (await readFile(file, 'utf8').catch(() => '(no log)')).split('\n').slice(-30).join('\n')
}
