/**
 * The `--device` option: a host device node made available in the container.
 */

import { deviceFromStat, parseDeviceRequest, type DeviceStat } from './device-spec.js'
import { ensureLinux, ensureResources } from './spec-sections.js'
import type { SpecOption } from './spec-options.js'

/** How {@link withDevice} learns about the host node. */
export interface DeviceOptions {
  /**
   * Stats a host path without following a final symlink, as containerd does (`lstat`). Pass `fs.lstatSync`,
   * or a stub in tests. It is called when the option is created.
   */
  statDevice: (path: string) => DeviceStat
}

/**
 * Adds a host device (`--device /dev/fuse`, `/dev/sda:/dev/xvda:r`): the node is created in the container
 * (`linux.devices`) and allowed by the device cgroup with the given access (default `rwm`).
 *
 * @throws InvalidArgumentError for a malformed value or a path that is not a device node. Errors thrown by
 * `statDevice` (a missing path) propagate unchanged.
 */
export function withDevice(spec: string, options: DeviceOptions): SpecOption {
  const request = parseDeviceRequest(spec)
  const device = deviceFromStat(request.hostPath, request.containerPath, options.statDevice(request.hostPath))
  return (target) => {
    const linux = ensureLinux(target)
    linux.devices = [...(linux.devices ?? []).filter((d) => d.path !== device.path), { ...device }]
    const resources = ensureResources(target)
    resources.devices = [
      ...(resources.devices ?? []),
      { allow: true, type: device.type, major: device.major, minor: device.minor, access: request.access },
    ]
  }
}
