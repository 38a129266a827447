import { InvalidArgumentError } from '../grpc/errors.js'

/** Where a BuildKit daemon listens, parsed from a `BUILDKIT_HOST`-style address. */
export type BuildKitAddress =
  /** buildkitd's own unix socket. */
  | { readonly kind: 'unix'; readonly address: string; readonly path: string }
  /** buildkitd on a plain TCP port (no TLS yet). */
  | { readonly kind: 'tcp'; readonly address: string; readonly host: string; readonly port: number }
  /** The BuildKit inside dockerd, reached through the Docker API socket's `/grpc` upgrade. */
  | { readonly kind: 'docker'; readonly address: string; readonly socketPath: string }

/** nerdctl's order after `$BUILDKIT_HOST`: the rootful buildkitd socket, then the one its packaging uses. */
export const DEFAULT_BUILDKIT_SOCKETS: readonly string[] = ['/run/buildkit/buildkitd.sock', '/run/buildkit-default/buildkitd.sock']

/**
 * Parses `unix:///path`, `tcp://host:port` or `docker://unix:///var/run/docker.sock` (a bare absolute path
 * counts as a unix socket, as buildctl accepts).
 *
 * @throws InvalidArgumentError for any other form, naming the accepted ones.
 */
export function parseBuildKitAddress(address: string): BuildKitAddress {
  if (address.startsWith('/')) return { kind: 'unix', address: `unix://${address}`, path: address }
  if (address.startsWith('unix://')) {
    const path = address.slice('unix://'.length)
    if (!path.startsWith('/')) throw invalid(address, 'a unix address needs an absolute path, e.g. unix:///run/buildkit/buildkitd.sock')
    return { kind: 'unix', address, path }
  }
  if (address.startsWith('tcp://')) {
    let url: URL
    try {
      url = new URL(address)
    } catch (err) {
      throw invalid(address, 'expected tcp://host:port', err)
    }
    const port = Number(url.port)
    if (url.hostname === '' || url.port === '' || !Number.isInteger(port)) throw invalid(address, 'expected tcp://host:port')
    // URL keeps the brackets of an IPv6 literal; net.connect wants the bare address.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    return { kind: 'tcp', address, host, port }
  }
  if (address.startsWith('docker://')) {
    const inner = address.slice('docker://'.length)
    // Only the local Docker API socket: dockerd's TCP API would need TLS settings we do not take yet.
    if (inner === '') return { kind: 'docker', address: 'docker://unix:///var/run/docker.sock', socketPath: '/var/run/docker.sock' }
    const parsed = parseBuildKitAddress(inner)
    if (parsed.kind !== 'unix') throw invalid(address, 'docker:// takes the Docker API unix socket, e.g. docker://unix:///var/run/docker.sock')
    return { kind: 'docker', address, socketPath: parsed.path }
  }
  throw invalid(address, 'use unix:///path, tcp://host:port or docker://unix:///var/run/docker.sock')
}

/**
 * The addresses to try when the caller names none: `$BUILDKIT_HOST` alone when it is set (an explicit
 * choice must not silently fall through to another daemon), else the default sockets in order.
 */
export function defaultBuildKitAddresses(env: NodeJS.ProcessEnv = process.env): string[] {
  const host = env.BUILDKIT_HOST
  if (host !== undefined && host !== '') return [host]
  return DEFAULT_BUILDKIT_SOCKETS.map((path) => `unix://${path}`)
}

function invalid(address: string, hint: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`invalid BuildKit address ${JSON.stringify(address)}: ${hint}`, { cause })
}
