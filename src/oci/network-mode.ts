import { hostname as hostHostname } from 'node:os'
import { ensureLinux } from './spec-sections.js'
import type { SpecOption } from './spec-options.js'

/**
 * Shares the host's network (`--network host`): no network namespace of its own, and the host's
 * /etc/hosts and /etc/resolv.conf bind-mounted read-only, as nerdctl does. The hostname defaults to the
 * host's (the container keeps its own UTS namespace, so setting one does not touch the host).
 */
export function withHostNetwork(): SpecOption {
  return (spec) => {
    const linux = ensureLinux(spec)
    linux.namespaces = (linux.namespaces ?? []).filter((ns) => ns.type !== 'network')
    spec.hostname ??= hostHostname()
    spec.mounts = spec.mounts ?? []
    for (const file of ['/etc/hosts', '/etc/resolv.conf']) {
      if (spec.mounts.some((m) => m.destination === file)) continue
      spec.mounts.push({ destination: file, type: 'bind', source: file, options: ['bind', 'ro', 'rprivate'] })
    }
  }
}

/**
 * A network namespace of the container's own with only loopback (`--network none`): containerd's
 * default spec already asks for one, so this makes sure it is there.
 */
export function withNoNetwork(): SpecOption {
  return (spec) => {
    const linux = ensureLinux(spec)
    const namespaces = linux.namespaces ?? []
    if (!namespaces.some((ns) => ns.type === 'network')) namespaces.push({ type: 'network' })
    linux.namespaces = namespaces
  }
}

/**
 * Joins the network namespace bind-mounted at `path` (`--network ns:<path>`, and every CNI-networked
 * container: the SDK makes its namespace before the task so it outlives the task).
 */
export function withNetworkNamespacePath(path: string): SpecOption {
  return (spec) => {
    const linux = ensureLinux(spec)
    linux.namespaces = [...(linux.namespaces ?? []).filter((ns) => ns.type !== 'network'), { type: 'network', path }]
  }
}
