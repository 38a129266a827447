/**
 * Docker's `run` flags as one flat, typed options object, turned into spec options in an order that gives
 * Docker's and nerdctl's results: process settings, resources, privileged before capabilities, capabilities
 * before the seccomp profile that depends on them, mounts, and `--init` last, once the command is final.
 *
 * Everything read from the host (env files, seccomp profile files, the init binary, device nodes) is read by
 * the caller and passed in {@link SpecFlagInputs}, so that this mapping stays synchronous and testable.
 */

import { checkOptionKeys, checkStringArray, describe, keysOf } from '../client/option-check.js'
import { InvalidArgumentError } from '../grpc/errors.js'
import { withAnnotations, withCgroupParent, withDomainname, withHostname, withSysctls } from './container-options.js'
import { withDevice } from './device-options.js'
import type { DeviceStat } from './device-spec.js'
import { normalizeEnv, type EnvInput } from './environment.js'
import { withBindMount, withCgroupfsMount, withReadonlyRootfs, withShmSize, withTmpfs } from './mount-options.js'
import type { BindMountSpec, TmpfsMountSpec } from './mount-spec.js'
import { withEnv, withEnvFile, withInit, withOomScoreAdj, withProcessCwd } from './process-options.js'
import {
  withBlkioWeight,
  withCpus,
  withCpuShares,
  withCpusetCpus,
  withCpusetMems,
  withMemory,
  withMemoryReservation,
  withMemorySwap,
  withPidsLimit,
  withUlimits,
} from './resource-options.js'
import { OCI_RUNTIME_SPEC_VERSION, type LinuxDevice } from './runtime-spec.js'
import { withCapabilities, withDefaultSeccomp, withNoNewPrivileges, withPrivileged, withSecurityOpt, type SeccompSecurityOpt } from './security-options.js'
import { applySpecOptions, type SpecOption } from './spec-options.js'
import type { UserDatabase } from './user-database.js'
import { withGroupAdd } from './user-options.js'

/** An rlimit in structured form (Docker API `Ulimits` entry). */
export interface Ulimit {
  /** Limit name without `RLIMIT_`: `nofile`, `nproc`, `core`, … */
  name: string
  /** Soft limit; `-1` for unlimited. */
  soft: number
  /** Hard limit; defaults to the soft limit. `-1` for unlimited. */
  hard?: number
}

/** A device in structured form (Docker API `DeviceMapping`). */
export interface DeviceMapping {
  /** The device node on the host, e.g. `/dev/fuse`. */
  pathOnHost: string
  /** Where it appears in the container. Default: the host path. */
  pathInContainer?: string
  /** Device-cgroup access: any of `r`, `w`, `m`. Default `rwm`. */
  cgroupPermissions?: string
}

/** A mount in structured form: a bind mount or a tmpfs. */
export type MountSpec = BindMountSpec | TmpfsMountSpec

/** A `--security-opt` value: a string such as `seccomp=unconfined`, or a seccomp profile already parsed. */
export type SecurityOpt = string | SeccompSecurityOpt

/**
 * Docker `run` flags, named like Docker's API and nerdctl's flags in camelCase. Each is optional; an absent
 * flag leaves the spec as containerd's default spec and the image config made it, except for the
 * defaults nerdctl applies to every container: cgroupfs mounted read-only at `/sys/fs/cgroup`,
 * `no_new_privs` off, and containerd's default seccomp profile (Docker's), unless privileged.
 */
export interface SpecFlags {
  /**
   * Variables added to (or replacing) the image's environment (`-e`): a map (`{ A: '1' }`, string values
   * only), or `KEY=value` strings, where a bare `KEY` takes this process's value.
   */
  env?: EnvInput
  /** Host paths of env files (`--env-file`), applied in order before `env`. */
  envFile?: string | readonly string[]
  /** Working directory (`-w`). Default: the image's, else `/`. */
  cwd?: string
  /** The `--workdir` spelling of `cwd`; give one of the two. */
  workdir?: string
  /** Host name inside the container (`-h`). */
  hostname?: string
  /** NIS domain name inside the container (`--domainname`). */
  domainname?: string

  /** Memory limit (`-m`): bytes or a size such as `512m`. Swap is then limited to the same amount again. */
  memory?: string | number
  /** Memory plus swap (`--memory-swap`): a size at least `memory`, `-1` for unlimited swap. Needs `memory` unless -1. */
  memorySwap?: string | number
  /** Memory soft limit (`--memory-reservation`), at most `memory`. */
  memoryReservation?: string | number
  /** CPU quota as a number of CPUs (`--cpus 1.5`). */
  cpus?: string | number
  /** Relative CPU weight (`--cpu-shares`, default weight 1024). */
  cpuShares?: number
  /** CPUs the container may run on (`--cpuset-cpus 0-3,7`). */
  cpusetCpus?: string
  /** NUMA memory nodes (`--cpuset-mems 0`). */
  cpusetMems?: string
  /** Maximum number of processes and threads (`--pids-limit`); -1 or 0 for unlimited. */
  pidsLimit?: number
  /** Block I/O weight 10..1000 (`--blkio-weight`); the kernel must offer a weight file for the container's I/O scheduler. */
  blkioWeight?: number
  /** rlimits (`--ulimit nofile=1024:2048`), replacing the default spec's limits of the same type. */
  ulimits?: ReadonlyArray<string | Ulimit>
  /** Namespaced kernel parameters (`--sysctl`): a map or `key=value` strings. */
  sysctls?: Readonly<Record<string, string>> | readonly string[]

  /** Capabilities to add (`--cap-add`): `NET_ADMIN`, `CAP_NET_ADMIN`, any case, or `ALL`. */
  capAdd?: readonly string[]
  /** Capabilities to drop (`--cap-drop`), as `capAdd`. */
  capDrop?: readonly string[]
  /**
   * Privileged container (`--privileged`): every capability and host device, no seccomp, no masked paths,
   * writable sysfs and cgroupfs. `capDrop` still applies afterwards.
   */
  privileged?: boolean
  /**
   * Security options (`--security-opt`): `seccomp=unconfined`, `seccomp=builtin`, `seccomp=<host path of a
   * profile JSON>`, `apparmor=<profile>`, `no-new-privileges[=true|false]`, `systempaths=unconfined`.
   */
  securityOpt?: readonly SecurityOpt[]
  /** Host devices to add (`--device /dev/fuse`, `/dev/sda:/dev/xvda:r`). */
  devices?: ReadonlyArray<string | DeviceMapping>

  /** Mount the root filesystem read-only (`--read-only`). */
  readOnly?: boolean
  /** tmpfs mounts (`--tmpfs /run:size=64m`), or a map of container path to options (Docker API `Tmpfs`). */
  tmpfs?: readonly string[] | Readonly<Record<string, string>>
  /** Size of `/dev/shm` (`--shm-size`): bytes or a size such as `64m`. Default 64 MiB. */
  shmSize?: string | number
  /**
   * Bind and tmpfs mounts: `-v` strings (`/host:/ctr[:ro,rshared,…]`) or structured mounts
   * (`{ type: 'bind', source, target, readOnly }`, `{ type: 'tmpfs', target, size }`). A mount replaces any
   * default mount at the same target.
   */
  mounts?: ReadonlyArray<string | MountSpec>

  /** OCI annotations (`--annotation`), merged over existing ones. */
  annotations?: Readonly<Record<string, string>>
  /**
   * Parent cgroup (`--cgroup-parent`): the container's cgroup becomes `<parent>/<id>`; a systemd slice name
   * (`machine.slice`) gives the systemd form `<slice>:nerdctl:<id>`, for runtimes using the systemd driver.
   */
  cgroupParent?: string
  /** The process's `oom_score_adj`, -1000..1000 (`--oom-score-adj`). */
  oomScoreAdj?: number
  /**
   * Run an init process as PID 1 that forwards signals and reaps zombies (`--init`): `true` for the host's
   * `tini-static` (Debian package `tini`), or the absolute host path of a static init binary.
   */
  init?: boolean | string
  /** Supplementary groups (`--group-add`): gids or names from the image's `/etc/group`. */
  groupAdd?: ReadonlyArray<string | number>
}

/** The keys of {@link SpecFlags}, for the run-time check of options that extend it. */
export const SPEC_FLAG_KEYS = keysOf<SpecFlags>()({
  env: true,
  envFile: true,
  cwd: true,
  workdir: true,
  hostname: true,
  domainname: true,
  memory: true,
  memorySwap: true,
  memoryReservation: true,
  cpus: true,
  cpuShares: true,
  cpusetCpus: true,
  cpusetMems: true,
  pidsLimit: true,
  blkioWeight: true,
  ulimits: true,
  sysctls: true,
  capAdd: true,
  capDrop: true,
  privileged: true,
  securityOpt: true,
  devices: true,
  readOnly: true,
  tmpfs: true,
  shmSize: true,
  mounts: true,
  annotations: true,
  cgroupParent: true,
  oomScoreAdj: true,
  init: true,
  groupAdd: true,
})

/** The keys of {@link Ulimit}. */
export const ULIMIT_KEYS = keysOf<Ulimit>()({ name: true, soft: true, hard: true })
/** The keys of {@link DeviceMapping}. */
export const DEVICE_MAPPING_KEYS = keysOf<DeviceMapping>()({ pathOnHost: true, pathInContainer: true, cgroupPermissions: true })
/** The keys of a bind {@link MountSpec}. */
export const BIND_MOUNT_KEYS = keysOf<BindMountSpec>()({ type: true, source: true, target: true, readOnly: true, propagation: true, nonRecursive: true })
/** The keys of a tmpfs {@link MountSpec}. */
export const TMPFS_MOUNT_KEYS = keysOf<TmpfsMountSpec>()({ type: true, target: true, size: true, mode: true, readOnly: true, options: true })

/**
 * Checks the shapes of the flags' values for callers in plain JavaScript, before anything is read or
 * made: `env` a map of strings or a list (see `normalizeEnv`); the list flags arrays, not a string that
 * would be taken per character (`capAdd: 'NET_ADMIN'`); map flags plain objects; the structured ulimits,
 * devices and mounts free of unknown keys. The values themselves are checked by {@link specFlagOptions}.
 * The keys of `flags` are the caller's to check (the options object holds more than flags).
 *
 * @param where the call, for messages (`run()`); default: none, the flag alone.
 * @throws InvalidArgumentError naming the flag and the fix.
 */
export function checkSpecFlagShapes(flags: SpecFlags, where?: string): void {
  const name = (flag: string): string => (where === undefined ? flag : `${where} ${flag}`)
  if (flags.env !== undefined) normalizeEnv(flags.env, name('env'))
  if (flags.envFile !== undefined && typeof flags.envFile !== 'string') checkStringArray(flags.envFile, name('envFile'), "['./app.env']")
  const lists = [
    ['capAdd', "['NET_ADMIN']"],
    ['capDrop', "['MKNOD']"],
  ] as const
  for (const [flag, example] of lists) checkStringArray(flags[flag], name(flag), example)
  for (const [flag, example] of [['ulimits', "['nofile=1024:2048']"], ['devices', "['/dev/fuse']"], ['mounts', "['/host:/ctr:ro']"], ['securityOpt', "['seccomp=unconfined']"], ['groupAdd', "['audio', 1000]"]] as const) {
    const value: unknown = flags[flag]
    if (value !== undefined && !Array.isArray(value)) throw new InvalidArgumentError(`${name(flag)} must be an array, e.g. ${example}; got ${describe(value)}`)
  }
  for (const [i, ulimit] of (flags.ulimits ?? []).entries()) {
    if (typeof ulimit !== 'string') checkOptionKeys(ulimit, ULIMIT_KEYS, name(`ulimits[${i}]`))
  }
  for (const [i, device] of (flags.devices ?? []).entries()) {
    if (typeof device !== 'string') checkOptionKeys(device, DEVICE_MAPPING_KEYS, name(`devices[${i}]`))
  }
  for (const [i, mount] of (flags.mounts ?? []).entries()) {
    if (typeof mount === 'string') continue
    // An unknown type is refused by specFlagOptions, with the types it supports.
    if (mount?.type === 'bind') checkOptionKeys(mount, BIND_MOUNT_KEYS, name(`mounts[${i}]`))
    else if (mount?.type === 'tmpfs') checkOptionKeys(mount, TMPFS_MOUNT_KEYS, name(`mounts[${i}]`))
  }
  for (const flag of ['sysctls', 'tmpfs'] as const) {
    const value: unknown = flags[flag]
    if (value !== undefined && !Array.isArray(value) && (typeof value !== 'object' || value === null)) {
      throw new InvalidArgumentError(`${name(flag)} must be an array of strings or an object of strings, got ${describe(value)}`)
    }
  }
  const annotations: unknown = flags.annotations
  if (annotations !== undefined && (typeof annotations !== 'object' || annotations === null || Array.isArray(annotations))) {
    throw new InvalidArgumentError(`${name('annotations')} must be an object of strings such as { 'org.example/key': 'value' }, got ${describe(annotations)}`)
  }
}

/** What {@link specFlagOptions} needs from the host and the image, read by the caller. */
export interface SpecFlagInputs {
  /** The container id (names the cgroup under `cgroupParent`). */
  id: string
  /** The text of each `envFile`, in order. Required when `envFile` is set. */
  envFiles?: ReadonlyArray<{
    /** The file's path, for error messages. */
    name: string
    /** Its contents. */
    text: string
  }>
  /** `securityOpt` with every seccomp profile path replaced by the profile's JSON text. Default: `flags.securityOpt`. */
  securityOpt?: readonly SecurityOpt[]
  /** The image's `/etc/passwd` and `/etc/group`, for group names in `groupAdd`. */
  userDatabase?: UserDatabase
  /** Stats a host device node (following symlinks). Required when `devices` is set. */
  statDevice?: (path: string) => DeviceStat
  /** The host's devices, given to a privileged container. Default: none. */
  hostDevices?: readonly LinuxDevice[]
  /** The capabilities a privileged container gets: the daemon's. Default: every known capability. */
  privilegedCapabilities?: readonly string[]
  /** Absolute host path of the init binary. Required when `init` is set. */
  initBinary?: string
}

/**
 * Turns flags into spec options, checking every value first: a bad value throws before any option exists.
 *
 * Besides the flags, the options carry what nerdctl applies to every container: the cgroup filesystem
 * mounted read-only at `/sys/fs/cgroup`, `no_new_privs` off (unless `no-new-privileges` is asked for), and
 * containerd's default seccomp profile (unless privileged or a `seccomp=` security option says otherwise),
 * computed after the capability changes.
 *
 * Order: env files, env, working directory, host and domain name, group-add (after the image's user), the
 * cgroup mount, resources, ulimits, sysctls, annotations, cgroup parent, OOM score, privileged, capabilities,
 * security options, the default seccomp profile, devices, read-only root, `/dev/shm` size, tmpfs and other
 * mounts, and `init` last.
 *
 * @throws InvalidArgumentError for a malformed or out-of-range value, naming the flag and the fix.
 */
export function specFlagOptions(flags: SpecFlags, inputs: SpecFlagInputs): SpecOption[] {
  checkSpecFlagShapes(flags)
  const options: SpecOption[] = []

  if (flags.envFile !== undefined) {
    if (inputs.envFiles === undefined) throw new InvalidArgumentError('--env-file: the files\' contents were not given')
    for (const file of inputs.envFiles) options.push(withEnvFile(file.text, { fileName: file.name }))
  }
  if (flags.env !== undefined) options.push(withEnv(flags.env))
  const cwd = workingDirectory(flags)
  if (cwd !== undefined) options.push(withProcessCwd(cwd))
  if (flags.hostname !== undefined) options.push(withHostname(flags.hostname))
  if (flags.domainname !== undefined) options.push(withDomainname(flags.domainname))
  if (flags.groupAdd !== undefined && flags.groupAdd.length > 0) {
    options.push(withGroupAdd(flags.groupAdd.map(groupName), inputs.userDatabase ?? {}))
  }

  // Before privileged, which makes it writable.
  options.push(withCgroupfsMount())
  options.push(...resourceOptions(flags))
  if (flags.sysctls !== undefined) options.push(withSysctls(flags.sysctls))
  if (flags.annotations !== undefined) options.push(withAnnotations(flags.annotations))
  if (flags.cgroupParent !== undefined) options.push(withCgroupParent(flags.cgroupParent, { id: inputs.id, systemd: isSystemdSlice(flags.cgroupParent) }))
  if (flags.oomScoreAdj !== undefined) options.push(withOomScoreAdj(flags.oomScoreAdj))

  options.push(...securityOptions(flags, inputs))
  for (const device of flags.devices ?? []) {
    if (inputs.statDevice === undefined) throw new InvalidArgumentError('--device: no way to stat host devices was given')
    options.push(withDevice(deviceString(device), { statDevice: inputs.statDevice }))
  }

  if (flags.readOnly === true) options.push(withReadonlyRootfs())
  if (flags.shmSize !== undefined) options.push(withShmSize(flags.shmSize))
  for (const tmpfs of tmpfsList(flags.tmpfs)) options.push(withTmpfs(tmpfs))
  for (const mount of flags.mounts ?? []) options.push(mountOption(mount))

  // Last: it wraps the final command and its mount must not be hidden by another.
  if (flags.init !== undefined && flags.init !== false) {
    if (inputs.initBinary === undefined) throw new InvalidArgumentError('--init: no init binary was given')
    options.push(withInit(inputs.initBinary))
  }
  return options
}

/** True when the security options choose a seccomp profile themselves (so the default one is not added). */
export function choosesSeccomp(securityOpt: readonly SecurityOpt[] | undefined): boolean {
  return (securityOpt ?? []).some((opt) => typeof opt !== 'string' || /^seccomp(?:[=:]|$)/.test(opt))
}

function workingDirectory(flags: SpecFlags): string | undefined {
  if (flags.cwd !== undefined && flags.workdir !== undefined && flags.cwd !== flags.workdir) {
    throw new InvalidArgumentError(`--workdir: cwd "${flags.cwd}" and workdir "${flags.workdir}" differ; they are the same option, give one`)
  }
  return flags.cwd ?? flags.workdir
}

function resourceOptions(flags: SpecFlags): SpecOption[] {
  const options: SpecOption[] = []
  if (flags.memorySwap !== undefined && flags.memory === undefined && !isUnlimited(flags.memorySwap) && !isZero(flags.memorySwap)) {
    throw new InvalidArgumentError('--memory-swap: set memory too; memory-swap is the limit of memory plus swap, so it needs a memory limit (or use -1 for unlimited swap)')
  }
  // Memory first: swap and reservation are checked against the limit, on a scratch spec here so that a
  // mismatch is reported now rather than when the options are applied.
  const memory: SpecOption[] = []
  if (flags.memory !== undefined) memory.push(withMemory(flags.memory))
  if (flags.memorySwap !== undefined) memory.push(withMemorySwap(flags.memorySwap))
  if (flags.memoryReservation !== undefined) memory.push(withMemoryReservation(flags.memoryReservation))
  applySpecOptions({ ociVersion: OCI_RUNTIME_SPEC_VERSION }, memory)
  options.push(...memory)
  if (flags.cpus !== undefined) options.push(withCpus(flags.cpus))
  if (flags.cpuShares !== undefined) options.push(withCpuShares(flags.cpuShares))
  if (flags.cpusetCpus !== undefined) options.push(withCpusetCpus(flags.cpusetCpus))
  if (flags.cpusetMems !== undefined) options.push(withCpusetMems(flags.cpusetMems))
  if (flags.pidsLimit !== undefined) options.push(withPidsLimit(flags.pidsLimit))
  if (flags.blkioWeight !== undefined) options.push(withBlkioWeight(flags.blkioWeight))
  if (flags.ulimits !== undefined && flags.ulimits.length > 0) options.push(withUlimits(flags.ulimits.map(ulimitString)))
  return options
}

function securityOptions(flags: SpecFlags, inputs: SpecFlagInputs): SpecOption[] {
  const securityOpt = inputs.securityOpt ?? flags.securityOpt ?? []
  // nerdctl's default; a no-new-privileges security option below turns it back on.
  const options: SpecOption[] = [withNoNewPrivileges(false)]
  const privileged = flags.privileged === true
  if (privileged) {
    options.push(withPrivileged({
      hostDevices: inputs.hostDevices ?? [],
      ...(inputs.privilegedCapabilities !== undefined ? { capabilities: inputs.privilegedCapabilities } : {}),
    }))
  }
  if (flags.capAdd !== undefined || flags.capDrop !== undefined) {
    options.push(withCapabilities({ add: flags.capAdd ?? [], drop: flags.capDrop ?? [] }))
  }
  for (const opt of securityOpt) options.push(withSecurityOpt(opt))
  // After the capability changes: the profile allows the syscalls the bounding set grants.
  if (!privileged && !choosesSeccomp(securityOpt)) options.push(withDefaultSeccomp())
  return options
}

function ulimitString(ulimit: string | Ulimit): string {
  if (typeof ulimit === 'string') return ulimit
  if (!Number.isSafeInteger(ulimit.soft) || (ulimit.hard !== undefined && !Number.isSafeInteger(ulimit.hard))) {
    throw new InvalidArgumentError(`--ulimit: ${ulimit.name} limits must be integers (-1 for unlimited)`)
  }
  return `${ulimit.name}=${ulimit.soft}:${ulimit.hard ?? ulimit.soft}`
}

function deviceString(device: string | DeviceMapping): string {
  if (typeof device === 'string') return device
  const parts = [device.pathOnHost, device.pathInContainer ?? device.pathOnHost, device.cgroupPermissions ?? 'rwm']
  if (parts.some((p) => p.includes(':'))) {
    throw new InvalidArgumentError(`--device: "${parts.join(':')}" has a ':' inside a path or the permissions; device paths cannot contain ':'`)
  }
  return parts.join(':')
}

function tmpfsList(tmpfs: SpecFlags['tmpfs']): Array<string | TmpfsMountSpec> {
  if (tmpfs === undefined) return []
  if (Array.isArray(tmpfs)) return [...(tmpfs as readonly string[])]
  return Object.entries(tmpfs as Readonly<Record<string, string>>).map(([target, options]): TmpfsMountSpec => ({
    type: 'tmpfs',
    target,
    options: options === '' ? [] : options.split(','),
  }))
}

function mountOption(mount: string | MountSpec): SpecOption {
  if (typeof mount === 'string') return withBindMount(mount)
  switch (mount.type) {
    case 'bind':
      return withBindMount(mount)
    case 'tmpfs':
      return withTmpfs(mount)
    default:
      throw new InvalidArgumentError(
        `--mount: type "${String((mount as { type?: unknown }).type)}" is not supported; use bind or tmpfs (resolve a named volume to its host directory and bind it)`,
      )
  }
}

function groupName(group: string | number): string {
  if (typeof group === 'string') return group
  if (!Number.isSafeInteger(group) || group < 0) throw new InvalidArgumentError(`--group-add: ${group} is not a gid; pass a non-negative integer or a group name`)
  return String(group)
}

function isSystemdSlice(parent: string): boolean {
  return parent.endsWith('.slice') && !parent.includes('/')
}

function isUnlimited(value: string | number): boolean {
  return value === -1 || value === '-1'
}

function isZero(value: string | number): boolean {
  return value === 0 || value === '0'
}
