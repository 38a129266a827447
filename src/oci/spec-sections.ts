/**
 * Get-or-create accessors for the optional sections of a spec, so that options can be applied to any spec
 * (not only a default one) without each option repeating the same existence checks.
 */

import type { LinuxCapabilities, LinuxCPU, LinuxMemory, LinuxResources, Linux, Process, Spec } from './runtime-spec.js'

/** Returns `spec.process`, creating a root process in `/` when there is none. */
export function ensureProcess(spec: Spec): Process {
  spec.process ??= { user: { uid: 0, gid: 0 }, cwd: '/' }
  return spec.process
}

/** Returns `spec.linux`, creating an empty one when there is none. */
export function ensureLinux(spec: Spec): Linux {
  spec.linux ??= {}
  return spec.linux
}

/** Returns `spec.linux.resources`, creating what is missing. */
export function ensureResources(spec: Spec): LinuxResources {
  const linux = ensureLinux(spec)
  linux.resources ??= {}
  return linux.resources
}

/** Returns `spec.linux.resources.memory`, creating what is missing. */
export function ensureMemory(spec: Spec): LinuxMemory {
  const resources = ensureResources(spec)
  resources.memory ??= {}
  return resources.memory
}

/** Returns `spec.linux.resources.cpu`, creating what is missing. */
export function ensureCpu(spec: Spec): LinuxCPU {
  const resources = ensureResources(spec)
  resources.cpu ??= {}
  return resources.cpu
}

/** Returns `spec.process.capabilities`, creating what is missing. */
export function ensureCapabilities(spec: Spec): LinuxCapabilities {
  const process = ensureProcess(spec)
  process.capabilities ??= {}
  return process.capabilities
}
