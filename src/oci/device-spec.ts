/**
 * `--device` values (`/dev/fuse`, `/dev/sda:/dev/xvda`, `/dev/fuse:/dev/fuse:rwm`) and the conversion of a
 * host `stat` of the device node into the spec's device entry and device-cgroup rule, as containerd's
 * `DeviceFromPath` does.
 */

import { InvalidArgumentError } from '../grpc/errors.js'
import type { LinuxDevice } from './runtime-spec.js'

/** A parsed `--device` value. */
export interface DeviceRequest {
  /** The device node on the host. */
  hostPath: string
  /** Where it appears in the container (defaults to the host path). */
  containerPath: string
  /** Device-cgroup access: any of `r`, `w`, `m` (default `rwm`). */
  access: string
}

/**
 * What {@link deviceFromStat} needs from a host `stat` of the node: the fields of Node's `fs.Stats` (or
 * `BigIntStats`), so `fs.lstatSync` can be passed as is.
 */
export interface DeviceStat {
  /** File type and permission bits (`st_mode`). */
  mode: number | bigint
  /** The device number the node refers to (`st_rdev`). */
  rdev: number | bigint
  /** Owner uid. */
  uid: number | bigint
  /** Owner gid. */
  gid: number | bigint
}

const FLAG = '--device'

/**
 * Parses `host[:container][:access]`, following nerdctl: with two parts, the second is the container path
 * when it contains `/`, else the access.
 *
 * @throws InvalidArgumentError for a relative host path, too many parts, or access letters other than r, w, m.
 */
export function parseDeviceRequest(spec: string): DeviceRequest {
  const parts = spec.split(':')
  let hostPath: string
  let containerPath: string
  let access = 'rwm'
  if (parts.length === 1) {
    hostPath = parts[0] ?? ''
    containerPath = hostPath
  } else if (parts.length === 2) {
    hostPath = parts[0] ?? ''
    const second = parts[1] ?? ''
    if (second.includes('/')) containerPath = second
    else {
      containerPath = hostPath
      access = second
    }
  } else if (parts.length === 3) {
    hostPath = parts[0] ?? ''
    containerPath = parts[1] ?? ''
    access = parts[2] ?? ''
  } else {
    throw new InvalidArgumentError(`${FLAG}: "${spec}" has too many ':'; write /dev/host[:/dev/container][:rwm]`)
  }
  if (!hostPath.startsWith('/')) throw new InvalidArgumentError(`${FLAG}: "${hostPath}" in "${spec}" is not an absolute path; write e.g. /dev/fuse`)
  if (!containerPath.startsWith('/')) {
    throw new InvalidArgumentError(`${FLAG}: container path "${containerPath}" in "${spec}" is not an absolute path`)
  }
  if (!/^[rwm]+$/.test(access)) {
    throw new InvalidArgumentError(`${FLAG}: invalid access "${access}" in "${spec}"; use a combination of r, w and m (e.g. rwm)`)
  }
  return { hostPath, containerPath, access }
}

const S_IFMT = 0o170000
const S_IFBLK = 0o060000
const S_IFCHR = 0o020000
const S_IFIFO = 0o010000

/**
 * Builds the spec's device entry from a `stat` of the host node: type (`b`, `c` or `p`), major and minor
 * (decoded as glibc's `major()`/`minor()` do), permission bits, owner.
 *
 * @throws InvalidArgumentError when the path is not a block, character or FIFO device.
 */
export function deviceFromStat(hostPath: string, containerPath: string, stat: DeviceStat): LinuxDevice {
  const mode = Number(stat.mode)
  let type: string
  switch (mode & S_IFMT) {
    case S_IFBLK:
      type = 'b'
      break
    case S_IFCHR:
      type = 'c'
      break
    case S_IFIFO:
      type = 'p'
      break
    default:
      throw new InvalidArgumentError(`${FLAG}: "${hostPath}" is not a device node; pass a character or block device such as /dev/fuse`)
  }
  // glibc's 64-bit dev_t layout: major in bits 8-19 and 44-63, minor in bits 0-7 and 20-43.
  const dev = BigInt(stat.rdev)
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n)
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n)
  return {
    path: containerPath,
    type,
    major: Number(major),
    minor: Number(minor),
    fileMode: mode & 0o7777,
    uid: Number(stat.uid),
    gid: Number(stat.gid),
  }
}
