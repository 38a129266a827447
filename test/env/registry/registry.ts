/**
 * Private Docker registries (Debian's distribution 2.8, `docker-registry`) for registry tests: each
 * instance has its own temp dir, port on 127.0.0.1, config and log, and one of three access modes.
 */

import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, rmSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { makeServerCertificates, type CertificateAuthority } from './certificates.js'
import { freePort } from './free-port.js'
import { writeHtpasswd } from './htpasswd.js'
import { httpRequest } from './http-request.js'
import { renderRegistryConfig, type RegistryConfigInput } from './registry-config.js'
import { startTokenServer, type TokenServer, type TokenServerOptions } from './token-server.js'

/** Where Debian's docker-registry package puts the binary. */
export const REGISTRY_BINARY = '/usr/bin/docker-registry'

/**
 * `plain`: HTTP, no auth. `tls-htpasswd`: HTTPS with a throwaway CA, Basic auth against bcrypt
 * htpasswd entries. `token`: Bearer tokens from a {@link TokenServer} (HTTP unless `tls` is set).
 */
export type RegistryMode = 'plain' | 'tls-htpasswd' | 'token'

/** A user name and password. */
export interface Credentials {
  readonly username: string
  readonly password: string
}

/** Options of {@link startRegistry}. */
export interface StartRegistryOptions {
  readonly mode: RegistryMode
  /** Users of the auth modes. Default one user `csdk` with a random password; ignored by `plain`. */
  readonly users?: Readonly<Record<string, string>>
  /** Serve HTTPS. Default: only in `tls-htpasswd`. */
  readonly tls?: boolean
  /**
   * The CA that signs the server certificate when serving HTTPS. Default a new one of this registry's
   * own; a shared one lets a daemon started earlier trust it (see `makeCertificateAuthority`).
   */
  readonly ca?: CertificateAuthority
  /** Token server settings in `token` mode (users come from {@link users}). */
  readonly token?: Omit<TokenServerOptions, 'dir' | 'users'>
  /** Parent of the instance's temp dir. Default the OS temp dir. */
  readonly baseDir?: string
  /** How long to wait for `GET /v2/` to answer. Default 15 s. */
  readonly readyTimeoutMs?: number
  /** The registry binary. Default {@link REGISTRY_BINARY}. */
  readonly binary?: string
}

/** A running registry. `await using` stops it. */
export interface Registry extends AsyncDisposable {
  readonly mode: RegistryMode
  /** `127.0.0.1:<port>`, the registry part of image references. */
  readonly host: string
  /** `http://127.0.0.1:<port>` or `https://…`. */
  readonly url: string
  /** Whether it serves HTTPS. */
  readonly tls: boolean
  /** The CA file to trust (TLS only). */
  readonly caFile?: string
  /** Contents of {@link caFile}. */
  readonly caPem?: string
  /** A directory with just `ca.crt` (TLS only), for skopeo `--cert-dir` or containerd `certs.d`. */
  readonly certDir?: string
  /** Users that can log in (empty in `plain`). */
  readonly users: Readonly<Record<string, string>>
  /** The first user, for the common single-user case; undefined in `plain`. */
  readonly credentials?: Credentials
  /** The realm the registry sends clients to (`token` mode). */
  readonly tokenServer?: TokenServer
  /** The instance's temp dir (config, storage, certificates, log). */
  readonly dir: string
  /** The registry's log (stdout and stderr, access log included). */
  readonly logFile: string
  /** The registry's pid, or -1 once stopped. */
  readonly pid: number
  /** The log so far. */
  readLog(): Promise<string>
  /** Kills the registry, closes the token server and removes the temp dir. Idempotent. */
  stop(): Promise<void>
}

const SERVICE = 'csdk-registry'
const ISSUER = 'csdk-token-server'
const PORT_ATTEMPTS = 3
const POLL_MS = 50

// Registries still running when the test process exits (a test that threw before stop(), a worker
// torn down early) are killed here, synchronously, so no docker-registry outlives its test run.
const running = new Map<ChildProcess, string>()
let exitHookInstalled = false
function track(child: ChildProcess, dir: string): void {
  running.set(child, dir)
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const [c, d] of running) {
      c.kill('SIGKILL')
      rmSync(d, { recursive: true, force: true })
    }
  })
}

/**
 * Starts a registry and resolves once `GET /v2/` answers (200, or 401 when auth is on). Everything —
 * storage, certificates, htpasswd, token signer, config, log — lives under a fresh temp dir.
 */
export async function startRegistry(options: StartRegistryOptions): Promise<Registry> {
  const { mode } = options
  const tls = options.tls ?? mode === 'tls-htpasswd'
  const binary = options.binary ?? REGISTRY_BINARY
  const users: Readonly<Record<string, string>> = mode === 'plain' ? {} : { ...(options.users ?? { csdk: randomBytes(9).toString('base64url') }) }
  const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), `csdk-registry-${mode}-`))
  const logFile = join(dir, 'registry.log')
  const configFile = join(dir, 'config.yml')
  let child: ChildProcess | undefined
  let tokenServer: TokenServer | undefined

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child !== undefined) await kill(child)
      child = undefined
      await tokenServer?.close()
      await rm(dir, { recursive: true, force: true, maxRetries: 3 })
    })()
    return stopping
  }

  try {
    const rootDirectory = join(dir, 'storage')
    await mkdir(rootDirectory)
    const certs = tls ? await makeServerCertificates(join(dir, 'tls'), options.ca) : undefined
    const base: Omit<RegistryConfigInput, 'addr'> = {
      rootDirectory,
      secret: randomBytes(16).toString('hex'),
      ...(certs === undefined ? {} : { tls: { certificate: certs.certFile, key: certs.keyFile } }),
    }
    let config: Omit<RegistryConfigInput, 'addr'>
    if (mode === 'tls-htpasswd') {
      const path = join(dir, 'htpasswd')
      await writeHtpasswd(path, users)
      config = { ...base, htpasswd: { realm: SERVICE, path } }
    } else if (mode === 'token') {
      tokenServer = await startTokenServer({ service: SERVICE, issuer: ISSUER, ...options.token, users, dir: join(dir, 'token') })
      config = {
        ...base,
        token: { realm: tokenServer.realm, service: tokenServer.service, issuer: tokenServer.issuer, rootCertBundle: tokenServer.certFile },
      }
    } else {
      config = base
    }

    let host = ''
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      const port = await freePort()
      host = `127.0.0.1:${port}`
      await writeFile(configFile, renderRegistryConfig({ ...config, addr: host }))
      const started = await launch(binary, configFile, logFile)
      child = started
      track(started, dir)
      const url = `${tls ? 'https' : 'http'}://${host}`
      const outcome = await waitReady(url, started, certs?.caPem, options.readyTimeoutMs ?? 15_000)
      if (outcome === 'ready') break
      await kill(started)
      child = undefined
      const log = await tail(logFile)
      // Between freePort() closing the port and the registry binding it, something else may take it.
      if (outcome === 'exited' && /address already in use/.test(log) && attempt < PORT_ATTEMPTS) continue
      const what = outcome === 'exited' ? `exited during start-up${spawnError(started)}` : `did not answer GET /v2/ within ${options.readyTimeoutMs ?? 15_000} ms`
      throw new Error(`${binary} (${mode}) ${what}; log:\n${log}`)
    }

    const first = Object.entries(users)[0]
    const registry: Registry = {
      mode,
      host,
      url: `${tls ? 'https' : 'http'}://${host}`,
      tls,
      ...(certs === undefined ? {} : { caFile: certs.caFile, caPem: certs.caPem, certDir: certs.certDir }),
      users,
      ...(first === undefined ? {} : { credentials: { username: first[0], password: first[1] } }),
      ...(tokenServer === undefined ? {} : { tokenServer }),
      dir,
      logFile,
      get pid() { return child?.pid ?? -1 },
      readLog: () => readFile(logFile, 'utf8'),
      stop,
      [Symbol.asyncDispose]: stop,
    }
    return registry
  } catch (err) {
    await stop()
    throw err
  }
}

async function launch(binary: string, configFile: string, logFile: string): Promise<ChildProcess> {
  const log = createWriteStream(logFile, { flags: 'a' })
  await new Promise<void>((resolve, reject) => {
    log.once('open', () => resolve())
    log.once('error', reject)
  })
  // distribution lets REGISTRY_* variables override the config file; none from the caller's
  // environment may leak in.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')))
  const child = spawn(binary, ['serve', configFile], { stdio: ['ignore', log, log], env })
  child.once('exit', () => log.close())
  // A binary that cannot be started reports through 'error' (and has no pid, which waitReady sees).
  child.once('error', (err) => {
    spawnErrors.set(child, err.message)
    log.close()
  })
  return child
}

const spawnErrors = new WeakMap<ChildProcess, string>()

function spawnError(child: ChildProcess): string {
  const message = spawnErrors.get(child)
  return message === undefined ? '' : ` (${message})`
}

async function waitReady(url: string, child: ChildProcess, ca: string | undefined, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return 'exited'
    try {
      const res = await httpRequest(`${url}/v2/`, { ...(ca === undefined ? {} : { ca }), timeoutMs: 1_000 })
      if (res.status === 200 || res.status === 401) return 'ready'
    } catch {
      // Not listening yet.
    }
    await sleep(POLL_MS)
  }
  return 'timeout'
}

async function kill(child: ChildProcess): Promise<void> {
  running.delete(child)
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  // Nothing in a throwaway registry needs a graceful shutdown; SIGKILL if SIGTERM is not enough soon.
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
  await exited
  clearTimeout(timer)
}

async function tail(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-30).join('\n')
  } catch {
    return '(no log)'
  }
}
