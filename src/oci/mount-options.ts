/**
 * Mount options: bind mounts (`-v`), tmpfs mounts (`--tmpfs`), the `/dev/shm` size (`--shm-size`), a
 * read-only root filesystem (`--read-only`) and the cgroup filesystem.
 */

import { posix } from 'node:path'
import { InvalidArgumentError } from '../grpc/errors.js'
import { parseByteSize } from './byte-size.js'
import {
  parseBindMount,
  parseTmpfsMount,
  structuredBindMount,
  structuredTmpfsMount,
  type BindMountSpec,
  type ParseBindMountOptions,
  type TmpfsMountSpec,
} from './mount-spec.js'
import type { Mount, Spec } from './runtime-spec.js'
import { ensureLinux } from './spec-sections.js'
import type { SpecOption } from './spec-options.js'

/**
 * Adds a mount, replacing any mount already at the same destination (a user mount at `/run` takes the place
 * of the default one instead of stacking on it, as in Docker).
 *
 * @throws InvalidArgumentError when the destination is not absolute.
 */
export function withMount(mount: Mount): SpecOption {
  if (!mount.destination.startsWith('/')) {
    throw new InvalidArgumentError(`mount: destination "${mount.destination}" must be an absolute path inside the container`)
  }
  const copy = structuredClone(mount)
  return (spec) => {
    addMount(spec, structuredClone(copy))
  }
}

/**
 * Adds a bind mount from `-v` syntax (`/host:/ctr[:ro,rprivate,…]`) or in structured form
 * (`{ type: 'bind', source, target, readOnly }`). `shared` and `slave` propagation also make the root mount
 * propagate accordingly, as nerdctl does.
 *
 * @throws InvalidArgumentError for a malformed value (see `parseBindMount`, `structuredBindMount`).
 */
export function withBindMount(spec: string | BindMountSpec, options: ParseBindMountOptions = {}): SpecOption {
  const parsed = typeof spec === 'string' ? parseBindMount(spec, options) : structuredBindMount(spec, options)
  return (target) => {
    addMount(target, structuredClone(parsed.mount))
    if (parsed.rootfsPropagation === undefined) return
    const linux = ensureLinux(target)
    const current = linux.rootfsPropagation ?? ''
    if (parsed.rootfsPropagation === 'shared') {
      if (current !== 'shared' && current !== 'rshared') linux.rootfsPropagation = 'shared'
    } else if (!['shared', 'rshared', 'slave', 'rslave'].includes(current)) {
      linux.rootfsPropagation = 'rslave'
    }
  }
}

/**
 * Adds a tmpfs mount from `--tmpfs` syntax (`/dst[:size=64m,mode=1777,…]`) or in structured form
 * (`{ type: 'tmpfs', target, size, mode }`).
 *
 * @throws InvalidArgumentError for a malformed value (see `parseTmpfsMount`, `structuredTmpfsMount`).
 */
export function withTmpfs(spec: string | TmpfsMountSpec): SpecOption {
  const mount = typeof spec === 'string' ? parseTmpfsMount(spec) : structuredTmpfsMount(spec)
  return (target) => {
    addMount(target, structuredClone(mount))
  }
}

/**
 * Sets the size of `/dev/shm` (`--shm-size`): bytes or a Docker size such as `64m`; written in KiB as
 * containerd's `WithDevShmSize` does.
 *
 * @throws InvalidArgumentError for a malformed or zero size, or a spec without the default `/dev/shm` mount.
 */
export function withShmSize(size: string | number): SpecOption {
  const kib = Math.floor(parseByteSize(size, '--shm-size') / 1024)
  if (kib <= 0) throw new InvalidArgumentError(`--shm-size: ${size} is less than 1 KiB; write e.g. 64m`)
  return (spec) => {
    const shm = spec.mounts?.find((m) => posix.normalize(m.destination) === '/dev/shm' && m.source === 'shm' && m.type === 'tmpfs')
    if (shm === undefined) {
      throw new InvalidArgumentError('--shm-size: the spec has no /dev/shm tmpfs mount to resize; start from defaultLinuxSpec or add the mount first')
    }
    shm.options = [...(shm.options ?? []).filter((o) => !o.startsWith('size=')), `size=${kib}k`]
  }
}

/**
 * Mounts the cgroup filesystem read-only at `/sys/fs/cgroup`, as nerdctl and Docker do, so a process can read
 * its own limits (`memory.limit_in_bytes`, `pids.max`, …). containerd's default spec has no such mount.
 * `withPrivileged` makes it writable when applied after this.
 */
export function withCgroupfsMount(): SpecOption {
  return withMount({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] })
}

/** Mounts the root filesystem read-only (`--read-only`). */
export function withReadonlyRootfs(): SpecOption {
  return (spec) => {
    spec.root = { path: spec.root?.path ?? 'rootfs', ...spec.root, readonly: true }
  }
}

function addMount(spec: Spec, mount: Mount): void {
  const destination = posix.normalize(mount.destination)
  spec.mounts = [...(spec.mounts ?? []).filter((m) => posix.normalize(m.destination) !== destination), mount]
}
