/** The configuration file of a private distribution 2.8 registry (docs/configuration.md). */

/** Inputs of {@link renderRegistryConfig}. */
export interface RegistryConfigInput {
  /** `storage.filesystem.rootdirectory`. */
  readonly rootDirectory: string
  /** `http.addr`, e.g. `127.0.0.1:5000`. */
  readonly addr: string
  /** `http.secret`; random per instance, it only signs upload state. */
  readonly secret: string
  /** Serve HTTPS with this certificate and key. */
  readonly tls?: { readonly certificate: string; readonly key: string }
  /** `auth.htpasswd`. */
  readonly htpasswd?: { readonly realm: string; readonly path: string }
  /** `auth.token`. */
  readonly token?: { readonly realm: string; readonly service: string; readonly issuer: string; readonly rootCertBundle: string }
}

type Yaml = string | number | boolean | readonly string[] | { readonly [key: string]: Yaml | undefined }

/** Builds the config as YAML. */
export function renderRegistryConfig(input: RegistryConfigInput): string {
  const auth =
    input.htpasswd !== undefined
      ? { htpasswd: { realm: input.htpasswd.realm, path: input.htpasswd.path } }
      : input.token !== undefined
        ? {
            token: {
              realm: input.token.realm,
              service: input.token.service,
              issuer: input.token.issuer,
              rootcertbundle: input.token.rootCertBundle,
            },
          }
        : undefined
  const config: Yaml = {
    version: '0.1',
    log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: input.rootDirectory },
      // Tests delete manifests and blobs through the SDK; distribution refuses that unless enabled.
      delete: { enabled: true },
      // No background walks over the storage while tests run.
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: input.addr,
      secret: input.secret,
      ...(input.tls === undefined ? {} : { tls: { certificate: input.tls.certificate, key: input.tls.key } }),
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    },
    ...(auth === undefined ? {} : { auth }),
    health: { storagedriver: { enabled: false } },
  }
  return `${renderYaml(config, 0)}\n`
}

// Scalars are written as JSON strings, which YAML reads as double-quoted scalars: no quoting rules to
// get wrong for paths or URLs.
function renderYaml(value: Yaml, indent: number): string {
  const pad = ' '.repeat(indent)
  const lines: string[] = []
  for (const [key, child] of Object.entries(value as Record<string, Yaml | undefined>)) {
    if (child === undefined) continue
    if (typeof child === 'string' || typeof child === 'number' || typeof child === 'boolean') {
      lines.push(`${pad}${key}: ${JSON.stringify(child)}`)
    } else if (Array.isArray(child)) {
      lines.push(`${pad}${key}:`, ...child.map((item: string) => `${pad}  - ${JSON.stringify(item)}`))
    } else {
      lines.push(`${pad}${key}:`, renderYaml(child, indent + 2))
    }
  }
  return lines.join('\n')
}
