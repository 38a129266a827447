import type { ContainerdLine } from './containerd-binaries.js'

/** Paths of one private containerd instance. */
export interface ContainerdPaths {
  /** Persistent data: content, snapshots, metadata. */
  root: string
  /** Runtime state: shim sockets, task bundles. */
  state: string
  /** The gRPC socket path. */
  address: string
}

/**
 * Renders a containerd config for a private instance: its own root, state and socket, and the CRI plugin
 * disabled (it would want /var/lib/kubelet-style setup and slows start-up). containerd 2.x reads config
 * version 3 and split CRI into several plugins; 1.x reads version 2.
 */
export function renderContainerdConfig(line: ContainerdLine, paths: ContainerdPaths): string {
  const disabled =
    line === '2.x'
      ? ['io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.images', 'io.containerd.cri.v1.runtime', 'io.containerd.podsandbox.controller.v1.podsandbox']
      : ['io.containerd.grpc.v1.cri']
  return [
    `version = ${line === '2.x' ? 3 : 2}`,
    `root = ${JSON.stringify(paths.root)}`,
    `state = ${JSON.stringify(paths.state)}`,
    `disabled_plugins = [${disabled.map((p) => JSON.stringify(p)).join(', ')}]`,
    '',
    '[grpc]',
    `  address = ${JSON.stringify(paths.address)}`,
    '',
    '[ttrpc]',
    `  address = ${JSON.stringify(`${paths.address}.ttrpc`)}`,
    '',
    '[metrics]',
    '  address = ""',
    '',
  ].join('\n')
}
