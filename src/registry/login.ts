import { checkOptionKeys, describe, keysOf } from '../client/option-check.js'
import { InvalidArgumentError } from '../grpc/errors.js'
import { Authorizer } from './authorizer.js'
import type { PasswordCredentials } from './credentials.js'
import { loadDockerConfig, removeCredentials, saveCredentials } from './docker-config.js'
import { discardBody, sendRequest } from './http-request.js'
import { registryEndpoints, type RegistryOptions } from './registry-access.js'
import type { RegistryEndpoint } from './registry-client.js'
import { RegistryError } from './registry-error.js'
import { checkRegistryOptions } from './registry-option-checks.js'
import { asCanceled } from '../grpc/abort.js'

/** Options of {@link login}. */
export interface LoginOptions extends PasswordCredentials {
  /** Where certificates and insecure registries are configured. */
  registry?: RegistryOptions
  /** Endpoints to check against, overriding `registry` (tests, unusual setups). */
  endpoints?: RegistryEndpoint[]
  /** Check the credentials only; do not store them. Default false. */
  skipStore?: boolean
  /** Cancels the check. */
  signal?: AbortSignal
}

/** The keys of {@link LoginOptions}, for the run-time check at the start of {@link login}. */
export const LOGIN_OPTION_KEYS = keysOf<LoginOptions>()({ username: true, password: true, registry: true, endpoints: true, skipStore: true, signal: true })

/**
 * Logs in to a registry like `docker login` / `nerdctl login`: checks the credentials against the
 * registry's `/v2/` (answering its Basic or Bearer challenge), then stores them where docker would — the
 * configured credential helper, else `auths` in config.json (mode 0600). `docker.io` is stored under
 * `https://index.docker.io/v1/`.
 * @throws InvalidArgumentError for options that are not login options (an unknown key is named with the
 *   closest known one) or a username or password that is not a string, before anything is sent.
 * @throws RegistryError `Unauthorized` when the registry rejects the credentials (nothing is stored).
 */
export async function login(host: string, options: LoginOptions): Promise<void> {
  if (options === undefined) throw new InvalidArgumentError('login() needs { username, password }')
  checkOptionKeys(options, LOGIN_OPTION_KEYS, 'login()')
  for (const key of ['username', 'password'] as const) {
    if (typeof options[key] !== 'string') throw new InvalidArgumentError(`login() ${key} must be a string, got ${describe(options[key])}`)
  }
  checkRegistryOptions(options.registry, 'login() registry')
  const creds: PasswordCredentials = { username: options.username, password: options.password }
  const endpoints = options.endpoints ?? (await registryEndpoints(host, options.registry))
  const endpoint = endpoints[endpoints.length - 1] // the registry itself, not a mirror
  if (endpoint === undefined) throw new RegistryError('InvalidConfig', `no endpoint is configured for ${host}`)
  const authorizer = new Authorizer(() => creds, () => endpoint.tls)
  const url = new URL(`${endpoint.url.href.replace(/\/$/, '')}/`)
  const send = async (authorization?: string): Promise<{ status: number; challenge: string | string[] | undefined }> => {
    const res = await sendRequest({
      method: 'GET',
      url,
      headers: { ...endpoint.headers, ...(authorization !== undefined ? { authorization } : {}) },
      ...(endpoint.tls !== undefined ? { tls: endpoint.tls } : {}),
      signal: options.signal,
    }).catch((err: unknown) => {
      if (endpoint.plainHttpFallback === true && url.protocol === 'https:') {
        url.protocol = 'http:'
        return sendRequest({ method: 'GET', url, headers: { ...(authorization !== undefined ? { authorization } : {}) }, signal: options.signal })
      }
      throw options.signal?.aborted === true ? asCanceled(err, options.signal, `login to ${host}`) : new RegistryError('Unavailable', `${host} is not reachable: ${(err as Error).message}`, { cause: err })
    })
    discardBody(res.body)
    return { status: res.status, challenge: res.headers['www-authenticate'] }
  }
  const first = await send()
  if (first.status === 401) {
    // An empty scope asks the token server for a plain login token, as docker does.
    const header = await authorizer.authorize(host, '', first.challenge, options.signal)
    const second = await send(header)
    if (second.status !== 200) {
      throw new RegistryError('Unauthorized', `${host} rejected the credentials of ${options.username} (HTTP ${second.status})`, { status: second.status })
    }
  } else if (first.status !== 200) {
    throw new RegistryError('Protocol', `${host} answered ${first.status} to GET /v2/`, { status: first.status })
  }
  if (options.skipStore === true) return
  await saveCredentials(host, creds, await loadDockerConfig())
}

/**
 * Removes stored credentials for a registry (from the helper and config.json), like `docker logout`.
 * Returns false when none were stored.
 */
export async function logout(host: string): Promise<boolean> {
  return removeCredentials(host, await loadDockerConfig())
}
