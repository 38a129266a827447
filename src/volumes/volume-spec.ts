/**
 * `-v` / `run({ volumes })` specs: `name:/dst[:opts]` (a named volume), `/host:/dst[:opts]` (a bind mount)
 * and `/dst` (an anonymous volume), parsed by nerdctl's rules (`pkg/mountutil/mountutil.go`,
 * `mountutil_linux.go`) where those are stricter than a warning: a source that is a valid volume name is a
 * volume, anything else a host path; propagation and `bind`/`rbind` apply to bind mounts only.
 */

import { posix } from 'node:path'
import { InvalidArgumentError } from '../grpc/errors.js'
import { parseBindMount, type ParseBindMountOptions, type ParsedBindMount } from '../oci/mount-spec.js'
import { isVolumeName } from './volume-store.js'

/** A named volume: `data:/data[:ro]`. */
export interface NamedVolumeSpec {
  /** Discriminant. */
  type: 'named'
  /** The volume's name; made when missing. */
  name: string
  /** Absolute path in the container. */
  destination: string
  /** Mount read-only (`ro`). */
  readOnly: boolean
  /** Skip copying the image's content at `destination` into a new volume (Docker's `nocopy`). */
  noCopy: boolean
  /** The options as written (`ro`, `rw,nocopy`, or `''`), recorded in the `Mode` of `nerdctl/mounts`. */
  mode: string
}

/** An anonymous volume: `/data`, a new volume with a random name. */
export interface AnonymousVolumeSpec {
  /** Discriminant. */
  type: 'anonymous'
  /** Absolute path in the container. */
  destination: string
  /** Always false: the form takes no options. */
  readOnly: false
  /** Always false. */
  noCopy: false
  /** Always `''`. */
  mode: ''
}

/** A bind mount of a host path: `/host/dir:/mnt[:ro,rshared]`. */
export interface BindVolumeSpec {
  /** Discriminant. */
  type: 'bind'
  /** Absolute host path, cleaned. */
  source: string
  /** Absolute path in the container, cleaned. */
  destination: string
  /** Mount read-only (`ro`/`rro`). */
  readOnly: boolean
  /** The options as written, recorded in the `Mode` of `nerdctl/mounts`. */
  mode: string
  /** The spec mount and what it asks of the root mount's propagation (see `parseBindMount`). */
  bind: ParsedBindMount
}

/** A parsed `-v` spec. */
export type VolumeSpec = NamedVolumeSpec | AnonymousVolumeSpec | BindVolumeSpec

const WRITE_MODES = new Set(['rw', 'ro'])
const BIND_ONLY = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'bind', 'rbind', 'rro'])

/**
 * Parses one `-v` spec. Leading `:` are dropped, as nerdctl does.
 *
 * Rules (nerdctl's, with its warnings made errors so that a typo does not silently mount something else):
 * - one part: an anonymous volume at that absolute path;
 * - two or three parts: the source is a volume when it is a valid volume name (`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`),
 *   else an absolute host path (a relative path is refused: nerdctl resolves it against its working
 *   directory, which means nothing to a library);
 * - the destination is absolute and not `/`;
 * - options: `rw` or `ro` for all; for bind mounts also `rro`, one propagation (`private`, `rprivate`,
 *   `shared`, `rshared`, `slave`, `rslave`) and `bind`/`rbind`; for volumes also `nocopy` (Docker's).
 *   nerdctl refuses propagation and `bind`/`rbind` on volumes, and so do we.
 *
 * @throws InvalidArgumentError for an empty spec, a relative or root destination, a relative host path,
 *   an unknown, duplicated or misplaced option, or too many `:`.
 */
export function parseVolumeSpec(spec: string, options: ParseBindMountOptions = {}): VolumeSpec {
  if (typeof spec !== 'string') throw new InvalidArgumentError(`volumes: expected a string such as "data:/data", got ${typeof spec}`)
  const trimmed = spec.replace(/^:+/, '')
  if (trimmed === '') throw new InvalidArgumentError(`volumes: empty volume spec ${JSON.stringify(spec)}; write name:/path, /host/path:/path or /path`)
  const parts = trimmed.split(':')
  if (parts.length > 3) {
    throw new InvalidArgumentError(`volumes: "${spec}" has too many ':'; write name:/path[:options], /host/path:/path[:options] or /path`)
  }
  if (parts.length === 1) {
    return { type: 'anonymous', destination: checkDestination(trimmed, spec), readOnly: false, noCopy: false, mode: '' }
  }
  const [source = '', destination = '', mode = ''] = parts
  const dst = checkDestination(destination, spec)
  if (source === '') throw new InvalidArgumentError(`volumes: "${spec}" has an empty source; write name:/path or /host/path:/path`)

  if (isVolumeName(source)) {
    const write: string[] = []
    let noCopy = false
    for (const opt of mode.split(',')) {
      if (opt === '') continue
      if (WRITE_MODES.has(opt)) write.push(opt)
      else if (opt === 'nocopy') noCopy = true
      else if (BIND_ONLY.has(opt)) {
        throw new InvalidArgumentError(`volumes: option "${opt}" in "${spec}" applies to bind mounts only, not to the volume "${source}"; use rw, ro or nocopy`)
      } else throw unknownOption(opt, spec)
    }
    if (write.length > 1) throw new InvalidArgumentError(`volumes: duplicated read/write option in "${spec}": ${write.join(', ')}; keep one`)
    return { type: 'named', name: source, destination: dst, readOnly: write[0] === 'ro', noCopy, mode }
  }

  if (!source.startsWith('/')) {
    throw new InvalidArgumentError(
      `volumes: source "${source}" in "${spec}" is neither a volume name (a letter or digit, then letters, digits, '_', '.' or '-') nor an absolute host path`,
    )
  }
  for (const opt of mode.split(',')) {
    if (opt === 'nocopy') throw new InvalidArgumentError(`volumes: option "nocopy" in "${spec}" applies to volumes only, not to a host path`)
    if (opt !== '' && !WRITE_MODES.has(opt) && !BIND_ONLY.has(opt) && opt !== 'z' && opt !== 'Z') throw unknownOption(opt, spec)
  }
  // parseBindMount checks the options again (duplicates, SELinux labels) and builds the mount as `mounts` does.
  const bind = parseBindMount(`${source}:${dst}${mode === '' ? '' : `:${mode}`}`, options)
  const readOnly = bind.mount.options?.some((o) => o === 'ro' || o === 'rro') ?? false
  return { type: 'bind', source: bind.mount.source ?? source, destination: dst, readOnly, mode, bind }
}

function unknownOption(opt: string, spec: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `volumes: unknown option "${opt}" in "${spec}"; use rw or ro, nocopy for volumes, or a propagation (rprivate, rshared, rslave, …) and bind/rbind for host paths`,
  )
}

function checkDestination(destination: string, spec: string): string {
  if (!destination.startsWith('/')) {
    throw new InvalidArgumentError(`volumes: destination "${destination}" in "${spec}" must be an absolute path inside the container`)
  }
  const normalised = posix.normalize(destination)
  const dst = normalised.length > 1 && normalised.endsWith('/') ? normalised.slice(0, -1) : normalised
  if (dst === '/') throw new InvalidArgumentError(`volumes: "${spec}" would mount over the container's root; pick a directory below /`)
  return dst
}
