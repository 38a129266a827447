import { InvalidArgumentError } from '../grpc/errors.js'
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

/** Settings of a private instance beyond its paths. */
export interface ContainerdConfigOptions {
  /**
   * How often the restart monitor reconciles containers with restart labels, in milliseconds. Default:
   * containerd's own (10 s). Tests of restart policies set it short (e.g. 1000) so restarts come quickly.
   */
  restartMonitorIntervalMs?: number
}

/**
 * Renders a containerd config for a private instance: its own root, state and socket, and the CRI plugin
 * disabled (it would want /var/lib/kubelet-style setup and slows start-up). containerd 2.x reads config
 * version 3 and split CRI into several plugins; 1.x reads version 2.
 */
export function renderContainerdConfig(line: ContainerdLine, paths: ContainerdPaths, options: ContainerdConfigOptions = {}): string {
  const disabled =
    line === '2.x'
      ? ['io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.images', 'io.containerd.cri.v1.runtime', 'io.containerd.podsandbox.controller.v1.podsandbox']
      : ['io.containerd.grpc.v1.cri']
  const config = [
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
  ]
  const interval = options.restartMonitorIntervalMs
  if (interval !== undefined) {
    if (!Number.isInteger(interval) || interval < 1) {
      throw new InvalidArgumentError(`restartMonitorIntervalMs must be a positive whole number of milliseconds, got ${String(interval)}`)
    }
    // The plugin moved from the internal type (1.x) to its own type in 2.x; both read a Go duration.
    const plugin = line === '2.x' ? 'io.containerd.monitor.container.v1.restart' : 'io.containerd.internal.v1.restart'
    config.push('[plugins]', `  [plugins.${JSON.stringify(plugin)}]`, `    interval = "${interval}ms"`, '')
  }
  return config.join('\n')
}
