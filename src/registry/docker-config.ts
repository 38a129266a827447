/**
 * Registry credentials from the docker CLI configuration, so that a `docker login` (or `nerdctl login`)
 * also works for this SDK, and a login through the SDK works for them.
 *
 * Sources, first match wins: the `DOCKER_AUTH_CONFIG` environment variable, the credential helper for the
 * host (`credHelpers`), the default helper (`credsStore`), and finally the `auths` entries of config.json.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, realpath, rename, unlink } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import {
  credentialHelperErase,
  credentialHelperGet,
  credentialHelperStore,
  IDENTITY_TOKEN_USERNAME,
  type CredentialHelperOptions,
  type CredentialHelperRunner,
} from './credential-helper.js'
import type { RegistryCredentials } from './credentials.js'
import { RegistryError } from './registry-error.js'

/** One `auths` entry of config.json. Unknown fields (e.g. `email`) are kept when the file is rewritten. */
export interface DockerAuthEntry {
  /** base64 of `username:password`. */
  auth?: string
  /** A refresh token from an OAuth-style login, used instead of a password. */
  identitytoken?: string
  /** Legacy plain-text user name, used only when `auth` is absent. */
  username?: string
  /** Legacy plain-text password, used only when `auth` is absent. */
  password?: string
  [field: string]: unknown
}

/** The fields of config.json this module reads; every other field is carried along untouched. */
export interface DockerConfigFile {
  /** Stored credentials by registry key (`host`, `https://host`, `https://index.docker.io/v1/`, …). */
  auths?: Record<string, DockerAuthEntry>
  /** The helper suffix used for every registry without its own entry in `credHelpers`. */
  credsStore?: string
  /** Helper suffix per registry host. */
  credHelpers?: Record<string, string>
  [field: string]: unknown
}

/** A loaded docker configuration. */
export interface DockerConfig {
  /** Path of config.json, whether or not it exists; logins are written there. */
  path: string
  /** The parsed file (an empty object when there is none). Replaced after every save. */
  file: DockerConfigFile
  /** Entries from `DOCKER_AUTH_CONFIG`; they win over every other source and are never written. */
  envAuths: Record<string, DockerAuthEntry>
}

/** Where to find the configuration; both default to the real environment. */
export interface LoadDockerConfigOptions {
  /** Environment holding `DOCKER_CONFIG` and `DOCKER_AUTH_CONFIG`. Default `process.env`. */
  env?: NodeJS.ProcessEnv
  /** Home directory holding `.docker/config.json`. Default `os.homedir()`. */
  homeDir?: string
}

/** Options of the calls that may run a credential helper. */
export interface CredentialStoreOptions extends CredentialHelperOptions {
  /** Replaces the helper process spawn (tests, sandboxes). Default: run `docker-credential-<name>`. */
  runHelper?: CredentialHelperRunner
}

/** The key docker stores Docker Hub credentials under, for historical reasons. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/'

// Every name Docker Hub is reached by; credentials for one are credentials for all.
const HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io'])

/** Path of config.json: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, like the docker CLI. */
export function dockerConfigPath(options: LoadDockerConfigOptions = {}): string {
  const env = options.env ?? process.env
  const dir = env['DOCKER_CONFIG']
  if (dir !== undefined && dir !== '') return join(dir, 'config.json')
  return join(options.homeDir ?? homedir(), '.docker', 'config.json')
}

/**
 * Loads config.json and `DOCKER_AUTH_CONFIG`. A missing or empty file is an empty configuration.
 *
 * @throws RegistryError `InvalidConfig` when the file cannot be read or is not a JSON object of the expected
 *   shape, or when `DOCKER_AUTH_CONFIG` is set but malformed. Messages never quote the file's content.
 */
export async function loadDockerConfig(options: LoadDockerConfigOptions = {}): Promise<DockerConfig> {
  const env = options.env ?? process.env
  const path = dockerConfigPath(options)
  const file = await readConfigFile(path)
  const envAuths = parseEnvAuthConfig(env['DOCKER_AUTH_CONFIG'])
  return { path, file, envAuths }
}

/**
 * The key docker uses to store credentials for `host`: the historical index URL for Docker Hub, the host
 * (with port) for everything else. Also the server URL given to credential helpers.
 */
export function authConfigKey(host: string): string {
  const name = registryHostname(host)
  return HUB_HOSTS.has(name) ? DOCKER_HUB_AUTH_KEY : name
}

/**
 * Reduces a registry key or URL to `host[:port]`, lower-cased: `https://Example.com:5000/v1/` →
 * `example.com:5000`. Old config files store keys with a scheme and path; they still match the host.
 */
export function registryHostname(keyOrUrl: string): string {
  let rest = keyOrUrl.trim()
  const scheme = rest.indexOf('://')
  if (scheme >= 0) rest = rest.slice(scheme + 3)
  const slash = rest.indexOf('/')
  if (slash >= 0) rest = rest.slice(0, slash)
  return rest.toLowerCase()
}

/**
 * Finds the credentials for `host` (a registry host such as `ghcr.io`, `localhost:5000` or `docker.io`).
 *
 * Order: `DOCKER_AUTH_CONFIG`, then the host's helper (`credHelpers[host]`, else `credsStore`), then the
 * `auths` entry. A helper that is not installed or has nothing for the host is skipped, not an error.
 *
 * @returns the credentials, or `undefined` for anonymous access.
 * @throws RegistryError `CredentialHelper` when a helper fails otherwise; `InvalidConfig` for a malformed
 *   entry of the matching host.
 */
export async function resolveCredentials(
  host: string,
  config: DockerConfig,
  options: CredentialStoreOptions = {},
): Promise<RegistryCredentials | undefined> {
  const fromEnv = firstEntryCredentials(host, config.envAuths, 'DOCKER_AUTH_CONFIG')
  if (fromEnv !== undefined) return fromEnv

  const helper = helperFor(host, config.file)
  if (helper !== undefined) {
    const found = await credentialHelperGet(helper, authConfigKey(host), helperOptions(options))
    if (found !== undefined) {
      return found.username === IDENTITY_TOKEN_USERNAME
        ? { identityToken: found.secret }
        : { username: found.username, password: found.secret }
    }
  }

  return firstEntryCredentials(host, config.file.auths ?? {}, 'config.json')
}

/**
 * Stores credentials for `host`, like `docker login`: through the host's credential helper when one is
 * configured (config.json then only records an empty entry), else as `auths[key]` in config.json.
 *
 * The file is re-read right before writing so that changes made since {@link loadDockerConfig} survive,
 * every unrelated field is kept, and the new file replaces the old one atomically with mode 0600.
 * `config.file` is updated to what was written.
 *
 * @throws RegistryError `CredentialHelper` when the helper fails; `InvalidConfig` when the current file is
 *   malformed (it is left alone rather than overwritten) or the user name contains a colon.
 */
export async function saveCredentials(
  host: string,
  credentials: RegistryCredentials,
  config: DockerConfig,
  options: CredentialStoreOptions = {},
): Promise<void> {
  const key = authConfigKey(host)
  const helper = helperFor(host, config.file)
  if (helper !== undefined) {
    const helperCreds =
      'identityToken' in credentials
        ? { serverUrl: key, username: IDENTITY_TOKEN_USERNAME, secret: credentials.identityToken }
        : { serverUrl: key, username: credentials.username, secret: credentials.password }
    await credentialHelperStore(helper, helperCreds, helperOptions(options))
  } else if ('username' in credentials && credentials.username.includes(':')) {
    // `auth` is split at the first colon when read back, so such a name could not round-trip.
    throw new RegistryError('InvalidConfig', `cannot store credentials for ${key}: the user name contains ':'`)
  }

  const file = await readConfigFile(config.path)
  const auths = { ...objectField(file, 'auths') } as Record<string, DockerAuthEntry>
  const previous = auths[key]
  const entry: DockerAuthEntry = { ...(isObject(previous) ? previous : {}) }
  delete entry.auth
  delete entry.identitytoken
  delete entry.username
  delete entry.password
  // With a helper the secret lives in the helper; the empty entry records the login like docker does.
  if (helper === undefined) {
    if ('identityToken' in credentials) entry.identitytoken = credentials.identityToken
    else entry.auth = Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')
  }
  if (previous !== undefined && JSON.stringify(previous) === JSON.stringify(entry)) {
    // Nothing changes (a repeated helper login): leave the file alone, it may even be read-only.
    config.file = file
    return
  }
  auths[key] = entry
  const updated: DockerConfigFile = { ...file, auths }
  await writeConfigFile(config.path, updated)
  config.file = updated
}

/**
 * Removes the stored credentials for `host`, like `docker logout`: erases them from the host's helper when
 * one is configured, and deletes every `auths` key that names the host. `DOCKER_AUTH_CONFIG` is not touched.
 *
 * @returns whether config.json had an entry to delete (a helper may have erased something regardless).
 * @throws RegistryError `CredentialHelper` when the helper fails; `InvalidConfig` when the file is malformed.
 */
export async function removeCredentials(
  host: string,
  config: DockerConfig,
  options: CredentialStoreOptions = {},
): Promise<boolean> {
  const helper = helperFor(host, config.file)
  if (helper !== undefined) await credentialHelperErase(helper, authConfigKey(host), helperOptions(options))

  const file = await readConfigFile(config.path)
  const auths = { ...objectField(file, 'auths') } as Record<string, DockerAuthEntry>
  const keys = matchingKeys(host, auths)
  if (keys.length === 0) {
    config.file = file
    return false
  }
  for (const key of keys) delete auths[key]
  const updated: DockerConfigFile = { ...file, auths }
  await writeConfigFile(config.path, updated)
  config.file = updated
  return true
}

/**
 * Decodes one `auths` entry. `undefined` when it holds no credentials (e.g. the empty entry a helper login
 * leaves behind).
 *
 * @throws RegistryError `InvalidConfig` when `auth` is not base64 of `user:password`; the message names the
 *   key, never the value.
 */
export function decodeAuthEntry(key: string, entry: unknown, source = 'config.json'): RegistryCredentials | undefined {
  if (!isObject(entry)) throw new RegistryError('InvalidConfig', `${source}: auths entry "${key}" is not an object`)
  const token = entry['identitytoken']
  if (typeof token === 'string' && token !== '') return { identityToken: token }
  const auth = entry['auth']
  if (typeof auth === 'string' && auth !== '') {
    const decoded = decodeBase64(auth)
    const colon = decoded === undefined ? -1 : decoded.indexOf(':')
    if (decoded === undefined || colon <= 0) {
      throw new RegistryError('InvalidConfig', `${source}: auths entry "${key}" has an auth field that is not base64 of "user:password"`)
    }
    // Docker trims NUL padding that some writers leave after the password.
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1).replace(/^\0+|\0+$/g, '') }
  }
  const username = entry['username']
  const password = entry['password']
  if (typeof username === 'string' && username !== '' && typeof password === 'string') return { username, password }
  return undefined
}

// The helper that holds this host's credentials, if any. A `credHelpers` entry replaces `credsStore` for
// its host; an empty one means "this host uses config.json", as in the docker CLI.
function helperFor(host: string, file: DockerConfigFile): string | undefined {
  const perHost = file.credHelpers ?? {}
  const key = matchingKeys(host, perHost)[0]
  if (key !== undefined) return perHost[key] === '' ? undefined : perHost[key]
  return file.credsStore === undefined || file.credsStore === '' ? undefined : file.credsStore
}

function firstEntryCredentials(
  host: string,
  auths: Record<string, DockerAuthEntry>,
  source: string,
): RegistryCredentials | undefined {
  for (const key of matchingKeys(host, auths)) {
    const creds = decodeAuthEntry(key, auths[key], source)
    if (creds !== undefined) return creds
  }
  return undefined
}

/**
 * Keys of `map` that name `host`, best first: the canonical key (`authConfigKey`), then keys that reduce
 * to the same host (`https://host`, `http://host/v1/`, …) in file order. Docker Hub's three names match
 * each other.
 */
function matchingKeys(host: string, map: Record<string, unknown>): string[] {
  const canonical = authConfigKey(host)
  const wanted = registryHostname(host)
  const hub = HUB_HOSTS.has(wanted)
  const keys = Object.keys(map)
  const rest = keys.filter((k) => {
    if (k === canonical) return false
    const name = registryHostname(k)
    return hub ? HUB_HOSTS.has(name) : name === wanted
  })
  return keys.includes(canonical) ? [canonical, ...rest] : rest
}

function helperOptions(options: CredentialStoreOptions): CredentialHelperOptions & { run?: CredentialHelperRunner } {
  const out: CredentialHelperOptions & { run?: CredentialHelperRunner } = {}
  if (options.env !== undefined) out.env = options.env
  if (options.timeoutMs !== undefined) out.timeoutMs = options.timeoutMs
  if (options.signal !== undefined) out.signal = options.signal
  if (options.runHelper !== undefined) out.run = options.runHelper
  return out
}

async function readConfigFile(path: string): Promise<DockerConfigFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    // fs errors name the path and the syscall only.
    throw new RegistryError('InvalidConfig', `cannot read ${path}`, { cause: err })
  }
  if (text.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // No cause: JSON.parse's message quotes the text around the error, which may be an auth string.
    throw new RegistryError('InvalidConfig', `${path} is not valid JSON`)
  }
  if (!isObject(parsed)) throw new RegistryError('InvalidConfig', `${path} must hold a JSON object`)
  if (parsed['auths'] !== undefined && parsed['auths'] !== null && !isObject(parsed['auths'])) {
    throw new RegistryError('InvalidConfig', `${path}: "auths" must be an object`)
  }
  if (parsed['credsStore'] !== undefined && typeof parsed['credsStore'] !== 'string') {
    throw new RegistryError('InvalidConfig', `${path}: "credsStore" must be a string`)
  }
  const helpers = parsed['credHelpers']
  if (helpers !== undefined && helpers !== null && (!isObject(helpers) || Object.values(helpers).some((v) => typeof v !== 'string'))) {
    throw new RegistryError('InvalidConfig', `${path}: "credHelpers" must map hosts to helper names`)
  }
  const file = parsed as DockerConfigFile
  // `null` is what some writers put for "none"; treat it as absent (a later save writes it as absent).
  if (parsed['auths'] === null || helpers === null) {
    const copy: DockerConfigFile = { ...file }
    if (parsed['auths'] === null) delete copy.auths
    if (helpers === null) delete copy.credHelpers
    return copy
  }
  return file
}

function parseEnvAuthConfig(value: string | undefined): Record<string, DockerAuthEntry> {
  if (value === undefined || value.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    throw new RegistryError('InvalidConfig', 'DOCKER_AUTH_CONFIG is not valid JSON')
  }
  if (!isObject(parsed)) throw new RegistryError('InvalidConfig', 'DOCKER_AUTH_CONFIG must hold a JSON object')
  const auths = parsed['auths']
  if (auths === undefined) return {}
  if (!isObject(auths)) throw new RegistryError('InvalidConfig', 'DOCKER_AUTH_CONFIG: "auths" must be an object')
  return auths as Record<string, DockerAuthEntry>
}

/**
 * Writes the file atomically: a private temp file in the same directory, flushed, then renamed over the
 * target, so a crash never leaves a truncated config.json and the secrets are never world-readable. A
 * symlinked config.json (dotfile managers) is replaced at its target, keeping the link.
 */
async function writeConfigFile(path: string, file: DockerConfigFile): Promise<void> {
  let target = path
  try {
    target = await realpath(path)
  } catch {
    // No file yet (or a dangling link): write at the path itself.
  }
  const dir = dirname(target)
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const handle = await open(temp, 'wx', 0o600)
    try {
      await handle.writeFile(JSON.stringify(file, null, '\t'), 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, target)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw new RegistryError('InvalidConfig', `cannot write ${target}`, { cause: err })
  }
}

function decodeBase64(value: string): string | undefined {
  // Buffer.from ignores invalid characters instead of failing; check first so garbage is reported.
  const trimmed = value.trim()
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.replace(/=+$/, '').length % 4 === 1) return undefined
  return Buffer.from(trimmed, 'base64').toString('utf8')
}

function objectField(file: DockerConfigFile, name: string): Record<string, unknown> {
  const value = file[name]
  return isObject(value) ? value : {}
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
