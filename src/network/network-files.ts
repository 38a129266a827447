/**
 * The files a container on a CNI network gets from the host side: /etc/resolv.conf, /etc/hosts and
 * /etc/hostname, each a bind mount of a file the SDK keeps (resolv.conf and hostname in the container's
 * state dir, hosts in the hosts store), plus the sysctl nerdctl sets for containers with a network
 * namespace of their own.
 */

import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { withHostnameFile } from '../nerdctl/state-dir.js'
import { ensureLinux } from '../oci/spec-sections.js'
import type { SpecOption } from '../oci/spec-options.js'

/** The sysctl that lets unprivileged processes bind ports below 1024 in the container's network namespace. */
export const UNPRIVILEGED_PORT_START_SYSCTL = 'net.ipv4.ip_unprivileged_port_start'

/** What {@link withNetworkFiles} binds into the container. */
export interface NetworkFiles {
  /** Host path of the container's resolv.conf (see `writeResolvConf`), bound at /etc/resolv.conf. */
  resolvConf: string
  /** Host path of the container's hosts file (see `HostsStore.allocate`), bound at /etc/hosts. */
  hosts: string
  /**
   * The container's state dir: when given, its `hostname` file is bound at /etc/hostname too
   * (`withHostnameFile`; write it with `createStateDir`'s `hostname`).
   */
  stateDir?: string | undefined
}

/**
 * Binds the network files into the container as nerdctl does for a non-host network: type `bind`, options
 * `['bind', 'rprivate']`, writable (nerdctl leaves them writable, so `echo … >> /etc/hosts` works in the
 * container; only `--network host` binds the host's own files read-only). A destination the spec already
 * mounts is left alone, so a user's own `-v …:/etc/hosts` wins. Also sets
 * `net.ipv4.ip_unprivileged_port_start=0` unless the spec sets it (see {@link withUnprivilegedPorts}).
 */
export function withNetworkFiles(files: NetworkFiles): SpecOption {
  const hostname = files.stateDir === undefined ? undefined : withHostnameFile(files.stateDir)
  const unprivileged = withUnprivilegedPorts()
  return (spec) => {
    spec.mounts = spec.mounts ?? []
    for (const [destination, source] of [
      ['/etc/resolv.conf', files.resolvConf],
      ['/etc/hosts', files.hosts],
    ] as const) {
      if (spec.mounts.some((m) => m.destination === destination)) continue
      spec.mounts.push({ destination, type: 'bind', source, options: ['bind', 'rprivate'] })
    }
    hostname?.(spec)
    unprivileged(spec)
  }
}

/**
 * Sets `net.ipv4.ip_unprivileged_port_start=0`, as nerdctl's `create` does for every container not on the
 * host network (`withDefaultUnprivilegedPortSysctl`), so a non-root process in the container can listen on
 * port 80 without CAP_NET_BIND_SERVICE: the namespace is the container's own, so this opens nothing on the
 * host. A value the spec already has (`--sysctl`) is kept. Do not use it with the host network: runc
 * refuses `net.*` sysctls in the host's namespace.
 */
export function withUnprivilegedPorts(): SpecOption {
  return (spec) => {
    const linux = ensureLinux(spec)
    const sysctl = linux.sysctl ?? {}
    if (!(UNPRIVILEGED_PORT_START_SYSCTL in sysctl)) sysctl[UNPRIVILEGED_PORT_START_SYSCTL] = '0'
    linux.sysctl = sysctl
  }
}

/**
 * Replaces a file's content without replacing the file: the same inode, so a bind mount of it into a
 * running container (which pins the inode) sees the new content. A rename over it, the usual atomic write,
 * would leave the container reading the old, unlinked inode; nerdctl writes its hosts files in place for the
 * same reason (`pkg/dnsutil/hostsstore`). Creates the file with `mode` (less the umask) if missing.
 *
 * The new bytes are written from offset 0 first and the file is cut to their length after, so a reader
 * never sees an empty file (with O_TRUNC it could); it may see new bytes followed by the old tail for a
 * moment. Synced before returning.
 */
export async function writeFileInPlace(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content
  // O_CREAT without O_TRUNC or O_APPEND: no string flag of Node's means exactly that.
  const handle = await open(path, constants.O_RDWR | constants.O_CREAT, mode)
  try {
    await handle.write(data, 0, data.length, 0)
    await handle.truncate(data.length)
    await handle.sync()
  } finally {
    await handle.close()
  }
}
