/**
 * Mount options: bind mounts (`-v`), tmpfs mounts (`--tmpfs`), the `/dev/shm` size (`--shm-size`) and a
 * read-only root filesystem (`--read-only`).
 */

import { posix } from 'node:path'
import { InvalidArgumentError } from '../client/errors.js'
import { parseByteSize } from './byte-size.js'
import { parseBindMount, parseTmpfsMount, type ParseBindMountOptions } from './mount-spec.js'
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
 * Adds a bind mount from `-v` syntax: `/host:/ctr[:ro,rprivate,…]`. `shared` and `slave` propagation also
 * make the root mount propagate accordingly, as nerdctl does.
 *
 * @throws InvalidArgumentError for a malformed value (see `parseBindMount`).
 */
export function withBindMount(spec: string, options: ParseBindMountOptions = {}): SpecOption {
  const parsed = parseBindMount(spec, options)
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
 * Adds a tmpfs mount from `--tmpfs` syntax: `/dst[:size=64m,mode=1777,…]`.
 *
 * @throws InvalidArgumentError for a malformed value (see `parseTmpfsMount`).
 */
export function withTmpfs(spec: string): SpecOption {
  const mount = parseTmpfsMount(spec)
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
