/**
 * Parsing of Docker-style mount flags into spec mounts: `-v /host:/ctr[:opts]` bind mounts and
 * `--tmpfs /dst[:opts]`, with nerdctl's defaults (rprivate propagation, recursive binds, noexec/nosuid/nodev
 * tmpfs) and Docker's tmpfs option merging.
 */

import { posix } from 'node:path'
import { InvalidArgumentError } from '../grpc/errors.js'
import { parseByteSize } from './byte-size.js'
import type { Mount } from './runtime-spec.js'

/** A parsed bind mount, plus what it asks of the root mount's propagation. */
export interface ParsedBindMount {
  /** The spec mount. */
  mount: Mount
  /**
   * Set for `shared`/`rshared` (needs `shared`) and `slave`/`rslave` (needs `rslave`) binds: runc makes the
   * root mount rslave by default, which would cut the propagation these modes ask for.
   */
  rootfsPropagation?: 'shared' | 'rslave'
}

/** Options for {@link parseBindMount}. */
export interface ParseBindMountOptions {
  /**
   * Make `ro` binds recursively read-only (`rro`, needs Linux 5.12 and runc 1.1). nerdctl does this when
   * the runtime supports it; the default here is plain `ro`, which every runtime accepts.
   */
  recursiveReadonly?: boolean
}

const WRITE_MODES = new Set(['rw', 'ro', 'rro'])
const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'])
const BIND_MODES = new Set(['bind', 'rbind'])

/**
 * Parses `/host/path:/container/path[:opt,opt]`. Options: `rw`/`ro`/`rro`, one propagation mode
 * (`rprivate` by default), and `bind` (non-recursive) or `rbind` (the default).
 *
 * @throws InvalidArgumentError for relative or named sources (resolve a named volume to its host directory
 * first), a relative or root destination, or unknown, duplicate or SELinux (`z`/`Z`) options.
 */
export function parseBindMount(spec: string, options: ParseBindMountOptions = {}): ParsedBindMount {
  const flag = '--volume'
  const parts = spec.split(':')
  if (parts.length < 2 || parts.length > 3) {
    throw new InvalidArgumentError(`${flag}: "${spec}" is not /host/path:/container/path[:options]`)
  }
  const [source = '', destination = '', rawOptions] = parts
  if (!source.startsWith('/')) {
    throw new InvalidArgumentError(
      `${flag}: source "${source}" in "${spec}" is not an absolute host path; named and anonymous volumes are not resolved here, so pass the volume's host directory`,
    )
  }
  const dst = checkDestination(destination, flag, spec)

  const writeModes: string[] = []
  const propagations: string[] = []
  const bindModes: string[] = []
  for (const opt of (rawOptions ?? '').split(',')) {
    if (opt === '') continue
    if (WRITE_MODES.has(opt)) writeModes.push(opt)
    else if (PROPAGATIONS.has(opt)) propagations.push(opt)
    else if (BIND_MODES.has(opt)) bindModes.push(opt)
    else if (opt === 'z' || opt === 'Z') {
      throw new InvalidArgumentError(`${flag}: option "${opt}" in "${spec}" (SELinux relabel) is not supported; relabel the host path yourself`)
    } else {
      throw new InvalidArgumentError(`${flag}: unknown option "${opt}" in "${spec}"; use rw, ro, a propagation mode (rprivate, rshared, rslave, …), bind or rbind`)
    }
  }
  for (const [list, what] of [
    [writeModes, 'read/write'],
    [propagations, 'propagation'],
    [bindModes, 'bind/rbind'],
  ] as const) {
    if (list.length > 1) throw new InvalidArgumentError(`${flag}: duplicated ${what} option in "${spec}": ${list.join(', ')}; keep one`)
  }

  return makeBindMount(clean(source), dst, {
    readOnly: writeModes[0] === 'ro' || writeModes[0] === 'rro',
    recursiveReadonly: writeModes[0] === 'rro' || options.recursiveReadonly === true,
    propagation: (propagations[0] ?? 'rprivate') as BindPropagation,
    nonRecursive: bindModes[0] === 'bind',
    explicitBind: bindModes[0] !== undefined,
  })
}

/** Bind propagation modes (`-v …:rshared`, `--mount bind-propagation=`). */
export type BindPropagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave'

/** A bind mount in structured form (Docker's `--mount type=bind,…` fields). */
export interface BindMountSpec {
  /** Discriminant. */
  type: 'bind'
  /** Absolute host path. */
  source: string
  /** Absolute path in the container (not `/`). */
  target: string
  /** Mount read-only. Default false. */
  readOnly?: boolean
  /** Propagation. Default `rprivate`. */
  propagation?: BindPropagation
  /** Bind only the directory itself, not the mounts below it (`bind` instead of `rbind`). Default false. */
  nonRecursive?: boolean
}

/**
 * Builds a bind mount from structured fields, with the same defaults and checks as {@link parseBindMount}.
 *
 * @throws InvalidArgumentError for a relative source, a relative or root target, or an unknown propagation.
 */
export function structuredBindMount(spec: BindMountSpec, options: ParseBindMountOptions = {}): ParsedBindMount {
  const flag = '--mount'
  const what = `type=bind,source=${spec.source},target=${spec.target}`
  if (!spec.source.startsWith('/')) {
    throw new InvalidArgumentError(`${flag}: source "${spec.source}" is not an absolute host path; named volumes are not resolved here, so pass the volume's host directory`)
  }
  const dst = checkDestination(spec.target, flag, what)
  const propagation = spec.propagation ?? 'rprivate'
  if (!PROPAGATIONS.has(propagation)) {
    throw new InvalidArgumentError(`${flag}: unknown propagation "${String(propagation)}" in ${what}; use private, rprivate, shared, rshared, slave or rslave`)
  }
  return makeBindMount(clean(spec.source), dst, {
    readOnly: spec.readOnly === true,
    recursiveReadonly: options.recursiveReadonly === true,
    propagation,
    nonRecursive: spec.nonRecursive === true,
    explicitBind: spec.nonRecursive === true,
  })
}

interface BindFields {
  readOnly: boolean
  recursiveReadonly: boolean
  propagation: BindPropagation
  nonRecursive: boolean
  // `bind`/`rbind` written by the user lead the options; the default `rbind` goes last, as nerdctl orders them.
  explicitBind: boolean
}

function makeBindMount(source: string, destination: string, fields: BindFields): ParsedBindMount {
  const out: string[] = []
  const bindMode = fields.nonRecursive ? 'bind' : 'rbind'
  if (fields.explicitBind) out.push(bindMode)
  if (fields.readOnly) out.push(fields.recursiveReadonly ? 'rro' : 'ro')
  out.push(fields.propagation)
  if (!fields.explicitBind) out.push('rbind')

  const result: ParsedBindMount = { mount: { destination, type: 'bind', source, options: out } }
  if (fields.propagation === 'shared' || fields.propagation === 'rshared') result.rootfsPropagation = 'shared'
  else if (fields.propagation === 'slave' || fields.propagation === 'rslave') result.rootfsPropagation = 'rslave'
  return result
}

/**
 * Parses `--tmpfs /dst[:opt,opt]` (e.g. `/run:size=64m,mode=1777`). The mount starts from
 * `noexec,nosuid,nodev`; later options override earlier ones of the same kind (`exec` beats `noexec`).
 *
 * @throws InvalidArgumentError for a relative destination or an option tmpfs does not take.
 */
export function parseTmpfsMount(spec: string): Mount {
  const colon = spec.indexOf(':')
  const destination = colon < 0 ? spec : spec.slice(0, colon)
  return tmpfsMount(destination, colon < 0 ? [] : spec.slice(colon + 1).split(','), '--tmpfs', spec)
}

/** A tmpfs mount in structured form (Docker's `--mount type=tmpfs,…` fields). */
export interface TmpfsMountSpec {
  /** Discriminant. */
  type: 'tmpfs'
  /** Absolute path in the container (not `/`). */
  target: string
  /** Size limit: bytes or a Docker size such as `64m`. Default: the kernel's (half of RAM). */
  size?: string | number
  /** Permission bits of the mount's root, e.g. `0o1777`. */
  mode?: number
  /** Mount read-only. Default false. */
  readOnly?: boolean
  /** Further mount flags or tmpfs options (`exec`, `uid=1000`, …), merged as `--tmpfs` merges them. */
  options?: readonly string[]
}

/**
 * Builds a tmpfs mount from structured fields, starting from `noexec,nosuid,nodev` like {@link parseTmpfsMount}.
 *
 * @throws InvalidArgumentError for a relative or root target, a bad size or mode, or an unknown option.
 */
export function structuredTmpfsMount(spec: TmpfsMountSpec): Mount {
  const what = `type=tmpfs,target=${spec.target}`
  const extra: string[] = []
  if (spec.readOnly === true) extra.push('ro')
  if (spec.size !== undefined) extra.push(`size=${parseByteSize(spec.size, '--mount tmpfs size')}`)
  if (spec.mode !== undefined) {
    if (!Number.isInteger(spec.mode) || spec.mode < 0 || spec.mode > 0o7777) {
      throw new InvalidArgumentError(`--mount: mode ${spec.mode} in ${what} is not a permission mode; write e.g. 0o1777`)
    }
    extra.push(`mode=${spec.mode.toString(8)}`)
  }
  return tmpfsMount(spec.target, [...extra, ...(spec.options ?? [])], '--mount', what)
}

function tmpfsMount(destination: string, extra: readonly string[], flag: string, what: string): Mount {
  const dst = checkDestination(destination, flag, what)
  const defaults = ['noexec', 'nosuid', 'nodev']
  const options = extra.length === 0 ? defaults : mergeTmpfsOptions([...defaults, ...extra], flag)
  return { destination: dst, type: 'tmpfs', source: 'tmpfs', options }
}

// Flags that cancel each other share a group; one group holds every propagation and bind flag, since a
// mount has only one of those.
const FLAG_GROUPS: Readonly<Record<string, string>> = {
  ro: 'rdonly', rw: 'rdonly',
  suid: 'nosuid', nosuid: 'nosuid',
  dev: 'nodev', nodev: 'nodev',
  exec: 'noexec', noexec: 'noexec',
  sync: 'sync', async: 'sync',
  dirsync: 'dirsync',
  remount: 'remount',
  mand: 'mand', nomand: 'mand',
  atime: 'noatime', noatime: 'noatime',
  diratime: 'nodiratime', nodiratime: 'nodiratime',
  relatime: 'relatime', norelatime: 'relatime',
  strictatime: 'strictatime', nostrictatime: 'strictatime',
  bind: 'propagation', rbind: 'propagation',
  unbindable: 'propagation', runbindable: 'propagation',
  private: 'propagation', rprivate: 'propagation',
  shared: 'propagation', rshared: 'propagation',
  slave: 'propagation', rslave: 'propagation',
}

const TMPFS_DATA_KEYS = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol'])

/**
 * Removes duplicates from tmpfs options, keeping the last of each kind in its position (Docker's
 * `MergeTmpfsOptions`); `defaults` is dropped.
 *
 * @throws InvalidArgumentError for an option that is neither a mount flag nor a tmpfs `key=value`.
 */
export function mergeTmpfsOptions(options: readonly string[], flag = '--tmpfs'): string[] {
  const seenFlags = new Set<string>()
  const seenKeys = new Set<string>()
  const out: string[] = []
  for (let i = options.length - 1; i >= 0; i--) {
    const option = options[i] ?? ''
    if (option === 'defaults') continue
    const group = FLAG_GROUPS[option]
    if (group !== undefined) {
      if (!seenFlags.has(group)) {
        seenFlags.add(group)
        out.unshift(option)
      }
      continue
    }
    const eq = option.indexOf('=')
    const key = eq < 0 ? option : option.slice(0, eq)
    if (eq < 0 || !TMPFS_DATA_KEYS.has(key)) {
      throw new InvalidArgumentError(`${flag}: invalid tmpfs option "${option}"; use mount flags (ro, exec, …) or size=, mode=, uid=, gid=, nr_inodes=, nr_blocks=, mpol=`)
    }
    if (!seenKeys.has(key)) {
      seenKeys.add(key)
      out.unshift(option)
    }
  }
  return out
}

function checkDestination(destination: string, flag: string, spec: string): string {
  if (!destination.startsWith('/')) {
    throw new InvalidArgumentError(`${flag}: destination "${destination}" in "${spec}" must be an absolute path inside the container`)
  }
  const dst = clean(destination)
  if (dst === '/') throw new InvalidArgumentError(`${flag}: "${spec}" would mount over the container's root; pick a directory below /`)
  return dst
}

function clean(path: string): string {
  const normalised = posix.normalize(path)
  return normalised.length > 1 && normalised.endsWith('/') ? normalised.slice(0, -1) : normalised
}
