/**
 * Where the docs' example programs run: against the daemon under test, with the registries they name
 * served locally, so `client.pull('docker.io/library/busybox:latest')` works on a machine without
 * internet access and no example needs rewriting for the test.
 *
 * - `docker.io` is a plain local registry holding `library/busybox:latest` (the fixtures' multi-platform
 *   busybox index: linux/amd64, linux/arm64, linux/arm/v7, all with this host's busybox);
 * - `registry.example.com` is a local HTTPS registry with Basic auth: user `me`, the password in
 *   `$REGISTRY_PASSWORD` (what a doc example reads).
 *
 * Both are configured the way a user would, with containerd's `certs.d/<host>/hosts.toml`, which the SDK
 * reads from `/etc/containerd/certs.d`. That directory is not ours to change: each program runs in a
 * private mount namespace (`unshare --mount`, root) where a temp dir is bind-mounted over it, so the host
 * and the daemon see nothing. (The daemon itself does not read it: examples of Transfer-service pulls,
 * where the daemon talks to the registry, are snippets.) Each program gets a fresh namespace
 * (`$CONTAINERD_NAMESPACE`) and docker config dir (`$DOCKER_CONFIG`), and runs with `tsx` from the dir
 * its file is in.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { multiPlatformIndex } from '../fixtures/index.js'
import { pushFixture, startRegistry, type Registry } from './registry/index.js'

/** The registry user of `registry.example.com`. */
export const EXAMPLE_REGISTRY_USER = 'me'

/** What a program did. */
export interface ProgramResult {
  /** Its exit code, or null when a signal (the timeout's) ended it. */
  code: number | null
  /** What it printed on stdout. */
  stdout: string
  /** What it printed on stderr. */
  stderr: string
}

/** Options of {@link DocSandbox.run}. */
export interface RunProgramOptions {
  /** The namespace it gets as `$CONTAINERD_NAMESPACE`. */
  namespace: string
  /** How long it may take; then it is killed (SIGKILL, with anything it started in its process group). */
  timeoutMs: number
}

/** The registries and the hosts configuration the docs' programs run with. */
export interface DocSandbox extends AsyncDisposable {
  /** Runs a program file (see the module comment) and resolves with how it ended. */
  run(file: string, options: RunProgramOptions): Promise<ProgramResult>
  /** Stops the registries and removes the temp dir. Idempotent. */
  stop(): Promise<void>
}

/** `/etc/containerd/certs.d`, or its nearest existing parent, which the bind mount covers. */
function bindTarget(): { target: string; certsDirUnder: string } {
  if (existsSync('/etc/containerd/certs.d')) return { target: '/etc/containerd/certs.d', certsDirUnder: '' }
  if (existsSync('/etc/containerd')) return { target: '/etc/containerd', certsDirUnder: 'certs.d' }
  throw new Error('the doc examples need /etc/containerd (installed with containerd) to mount their registry configuration over')
}

/**
 * Starts the registries, pushes the busybox index, writes the hosts configuration.
 * @param address the daemon's socket, passed to programs as `$CONTAINERD_ADDRESS`.
 */
export async function startDocSandbox(address: string): Promise<DocSandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'csdk-doc-sandbox-'))
  const registries: Registry[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(registries.splice(0).map((r) => r.stop()))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const hub = await startRegistry({ mode: 'plain' })
    registries.push(hub)
    await pushFixture(hub, await multiPlatformIndex(), 'library/busybox', 'latest')
    const password = randomBytes(12).toString('base64url')
    const example = await startRegistry({ mode: 'tls-htpasswd', users: { [EXAMPLE_REGISTRY_USER]: password } })
    registries.push(example)

    const { target, certsDirUnder } = bindTarget()
    const mounted = join(dir, 'etc')
    const certsD = join(mounted, certsDirUnder)
    // docker.io is the local registry alone (no fallback to the real one: a test must not go out).
    await mkdir(join(certsD, 'docker.io'), { recursive: true })
    await writeFile(join(certsD, 'docker.io', 'hosts.toml'), `server = "${hub.url}"\n`)
    await mkdir(join(certsD, 'registry.example.com'), { recursive: true })
    await writeFile(join(certsD, 'registry.example.com', 'hosts.toml'), `server = "${example.url}"\nca = ${JSON.stringify(example.caFile)}\n`)

    const tsx = createRequire(import.meta.url).resolve('tsx')
    let stopped: Promise<void> | undefined
    return {
      async run(file, options) {
        const dockerConfig = await mkdtemp(join(dir, 'docker-config-'))
        const env: NodeJS.ProcessEnv = {}
        for (const [key, value] of Object.entries(process.env)) {
          if (!/^(CONTAINERD_|DOCKER_|REGISTRY_)/.test(key)) env[key] = value
        }
        Object.assign(env, { CONTAINERD_ADDRESS: address, CONTAINERD_NAMESPACE: options.namespace, DOCKER_CONFIG: dockerConfig, REGISTRY_PASSWORD: password })
        try {
          return await runInMountNamespace(mounted, target, [process.execPath, '--import', tsx, file], { cwd: dirname(file), env, timeoutMs: options.timeoutMs })
        } finally {
          await rm(dockerConfig, { recursive: true, force: true })
        }
      },
      stop() {
        stopped ??= stop()
        return stopped
      },
      [Symbol.asyncDispose]() {
        stopped ??= stop()
        return stopped
      },
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Runs `command` in a new mount namespace where `source` is bind-mounted over `target`. */
function runInMountNamespace(
  source: string,
  target: string,
  command: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    // `private` propagation: the mount stays in the namespace. sh's $0 and $1 are the mount's ends.
    const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$0" "$1" && shift && exec "$@"', source, target, ...command], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so the timeout kills what it started too
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }, options.timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() })
    })
  })
}
