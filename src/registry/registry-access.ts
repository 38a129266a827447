import type { CredentialsProvider, RegistryCredentials } from './credentials.js'
import { loadDockerConfig, resolveCredentials, type DockerConfig } from './docker-config.js'
import { resolveRegistryHosts } from './hosts-config.js'
import type { TlsSettings } from './http-request.js'
import type { RegistryEndpoint } from './registry-client.js'

/** Where registry settings come from, for pull and push. */
export interface RegistryOptions {
  /** Directories with per-registry `hosts.toml` and certificates. Default `/etc/containerd/certs.d`, `/etc/docker/certs.d`. */
  configDirs?: readonly string[]
  /** Registries to reach without TLS verification (and over plain HTTP if they speak no TLS): `host[:port]` or CIDR. */
  insecure?: readonly string[]
}

/**
 * The endpoints for a registry: mirrors from hosts.toml first, the registry itself last, each with its
 * TLS settings and headers, like containerd's resolver.
 */
export async function registryEndpoints(domain: string, options: RegistryOptions = {}): Promise<RegistryEndpoint[]> {
  const hosts = await resolveRegistryHosts(domain, {
    ...(options.configDirs !== undefined ? { configDirs: options.configDirs } : {}),
    ...(options.insecure !== undefined ? { insecure: options.insecure } : {}),
  })
  return hosts.map((h) => ({
    url: h.url,
    capabilities: new Set<string>(h.capabilities),
    tls: { ...h.tls },
    // hosts.toml allows several values per header; HTTP joins them with commas.
    headers: Object.fromEntries(Object.entries(h.headers).map(([k, v]) => [k, v.join(', ')])),
    plainHttpFallback: h.plainHttpFallback,
  }))
}

/**
 * The TLS settings of a host a registry redirects to (`host[:port]`, storage or a CDN): the CA, client
 * certificate and verification setting that certs.d (or `insecure`) configures for that host, else the
 * system's CAs. Used by the registry client and uploader for redirect targets on another origin.
 */
export function redirectTargetTls(options: RegistryOptions = {}): (host: string) => Promise<TlsSettings | undefined> {
  return async (host) => (await registryEndpoints(host, options)).find((e) => e.url.host === host)?.tls
}

/**
 * Credentials as docker and nerdctl find them: `DOCKER_AUTH_CONFIG`, then `credHelpers` / `credsStore`
 * helpers, then `auths` in `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. The config file is
 * read once, on the first registry that asks.
 */
export function dockerConfigCredentials(): CredentialsProvider {
  let config: Promise<DockerConfig> | undefined
  return async (host: string): Promise<RegistryCredentials | undefined> => {
    config ??= loadDockerConfig()
    return resolveCredentials(host, await config)
  }
}

/** Turns the `auth` option of pull/push into a provider: fixed credentials, a function, or docker's config. */
export function credentialsProvider(auth: RegistryCredentials | CredentialsProvider | undefined): CredentialsProvider {
  if (typeof auth === 'function') return auth
  if (auth !== undefined) return () => auth
  return dockerConfigCredentials()
}
