import { InvalidArgumentError } from '../grpc/errors.js'

/** containerd's default socket (`defaults.DefaultAddress` on Linux). */
export const DEFAULT_ADDRESS = '/run/containerd/containerd.sock'
/** containerd's default namespace. */
export const DEFAULT_NAMESPACE = 'default'

/** Resolves the address option or `CONTAINERD_ADDRESS`, falling back to containerd's default socket. */
export function resolveAddress(address: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return socketPath(address ?? nonEmpty(env['CONTAINERD_ADDRESS']) ?? DEFAULT_ADDRESS)
}

/** Resolves the namespace option or `CONTAINERD_NAMESPACE`, falling back to `default`. */
export function resolveNamespace(namespace: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return namespace ?? nonEmpty(env['CONTAINERD_NAMESPACE']) ?? DEFAULT_NAMESPACE
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/**
 * Turns `unix:///run/x.sock`, `unix:/run/x.sock`, `unix://relative.sock` or a plain path into the socket
 * path. containerd listens on a unix socket only; TCP addresses are rejected with the fix named.
 */
export function socketPath(address: string): string {
  const path = address.startsWith('unix://') ? address.slice('unix://'.length)
    : address.startsWith('unix:') ? address.slice('unix:'.length)
    : address
  if (path !== address) {
    if (path === '') throw new InvalidArgumentError(`the containerd address "${address}" names no socket path`)
    return path
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) {
    throw new InvalidArgumentError(
      `unsupported containerd address "${address}": containerd serves its API on a unix socket; pass a path such as ${DEFAULT_ADDRESS} or unix://${DEFAULT_ADDRESS}`,
    )
  }
  if (address === '') throw new InvalidArgumentError('the containerd address is empty')
  return address
}
