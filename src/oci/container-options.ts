/**
 * Options for container-wide settings: hostname and domain name, annotations, sysctls and the cgroup path.
 */

import { posix } from 'node:path'
import { InvalidArgumentError } from '../grpc/errors.js'
import { ensureLinux } from './spec-sections.js'
import type { SpecOption } from './spec-options.js'

// The kernel's HOST_NAME_MAX; sethostname fails beyond it.
const HOST_NAME_MAX = 64

/**
 * Sets the container's hostname (`--hostname`); it takes effect in the container's own UTS namespace.
 *
 * @throws InvalidArgumentError for an empty name, one longer than 64 characters, or one with whitespace or '/'.
 */
export function withHostname(hostname: string): SpecOption {
  checkName(hostname, '--hostname')
  return (spec) => {
    spec.hostname = hostname
  }
}

/**
 * Sets the container's NIS domain name (`--domainname`): the spec's `domainname` and, for runtimes older than
 * that field (runc before 1.2 ignores it), the `kernel.domainname` sysctl of the container's UTS namespace,
 * which runc has always accepted. A `kernel.domainname` sysctl set explicitly is kept.
 *
 * @throws InvalidArgumentError for the same reasons as {@link withHostname}.
 */
export function withDomainname(domainname: string): SpecOption {
  checkName(domainname, '--domainname')
  return (spec) => {
    spec.domainname = domainname
    const linux = ensureLinux(spec)
    linux.sysctl = { 'kernel.domainname': domainname, ...linux.sysctl }
  }
}

/** Adds annotations (`--annotation`), replacing values of keys already present. */
export function withAnnotations(annotations: Readonly<Record<string, string>>): SpecOption {
  const entries = Object.entries(annotations)
  for (const [key] of entries) {
    if (key === '') throw new InvalidArgumentError('--annotation: empty key; write key=value')
  }
  return (spec) => {
    const target = spec.annotations ?? {}
    for (const [key, value] of entries) target[key] = value
    spec.annotations = target
  }
}

/**
 * Sets kernel parameters in the container's namespaces (`--sysctl`), from a map or `key=value` strings.
 * Whether a key is namespaced (allowed) is left to the runtime, which knows the running kernel.
 *
 * @throws InvalidArgumentError for an entry without `=`, or a key that is empty or contains whitespace.
 */
export function withSysctls(sysctls: Readonly<Record<string, string>> | readonly string[]): SpecOption {
  const entries: Array<[string, string]> = []
  if (Array.isArray(sysctls)) {
    for (const entry of sysctls as readonly string[]) {
      const eq = entry.indexOf('=')
      if (eq < 0) throw new InvalidArgumentError(`--sysctl: "${entry}" is not key=value; write e.g. net.ipv4.ip_forward=1`)
      entries.push([entry.slice(0, eq), entry.slice(eq + 1)])
    }
  } else {
    entries.push(...Object.entries(sysctls as Readonly<Record<string, string>>))
  }
  for (const [key] of entries) {
    if (key === '' || /\s/.test(key)) throw new InvalidArgumentError(`--sysctl: invalid key "${key}"; write a name such as net.ipv4.ip_forward`)
  }
  return (spec) => {
    const linux = ensureLinux(spec)
    const target = linux.sysctl ?? {}
    for (const [key, value] of entries) target[key] = value
    linux.sysctl = target
  }
}

/** Sets `linux.cgroupsPath` as given; an empty path lets the runtime pick one. */
export function withCgroupsPath(path: string): SpecOption {
  return (spec) => {
    const linux = ensureLinux(spec)
    if (path === '') delete linux.cgroupsPath
    else linux.cgroupsPath = path
  }
}

/** How {@link withCgroupParent} forms the path. */
export interface CgroupParentOptions {
  /** The container id, the last path element. */
  id: string
  /** The runtime uses the systemd cgroup driver (runc `SystemdCgroup = true`). */
  systemd?: boolean
  /** The systemd scope prefix: the scope becomes `<prefix>-<id>.scope`. Defaults to nerdctl's, `nerdctl`. */
  prefix?: string
}

/**
 * Puts the container's cgroup under a parent (`--cgroup-parent`), the way nerdctl and Docker do:
 * `<parent>/<id>` for the cgroupfs driver, `<parent>:<prefix>:<id>` for the systemd driver, whose parent must
 * be a slice.
 *
 * @throws InvalidArgumentError for an empty parent or id, or, with systemd, a parent that is not `*.slice`.
 */
export function withCgroupParent(parent: string, options: CgroupParentOptions): SpecOption {
  if (parent === '') throw new InvalidArgumentError('--cgroup-parent: empty parent; pass a cgroup path or, with systemd, a slice such as machine.slice')
  if (options.id === '') throw new InvalidArgumentError('--cgroup-parent: the container id is empty')
  let path: string
  if (options.systemd === true) {
    if (parent.length <= '.slice'.length || !parent.endsWith('.slice') || parent.includes('/')) {
      throw new InvalidArgumentError(`--cgroup-parent: "${parent}" is not a systemd slice; with the systemd cgroup driver name a slice such as machine.slice`)
    }
    path = `${parent}:${options.prefix ?? 'nerdctl'}:${options.id}`
  } else {
    path = posix.join(parent, options.id)
  }
  return withCgroupsPath(path)
}

function checkName(name: string, flag: string): void {
  if (name === '') throw new InvalidArgumentError(`${flag}: empty name`)
  if (name.length > HOST_NAME_MAX) throw new InvalidArgumentError(`${flag}: "${name}" is longer than ${HOST_NAME_MAX} characters; shorten it`)
  if (/[\s/]/.test(name)) throw new InvalidArgumentError(`${flag}: "${name}" contains whitespace or '/'; use letters, digits, '-' and '.'`)
}
