/**
 * Security options: capabilities (`--cap-add`/`--cap-drop`), `--privileged`, `--security-opt`, and the
 * default seccomp profile.
 */

import { InvalidArgumentError } from '../grpc/errors.js'
import { isAllCapabilities, KNOWN_CAPABILITIES, normalizeCapability } from './capabilities.js'
import { defaultSeccompProfile, type DefaultSeccompOptions } from './default-seccomp.js'
import type { LinuxCapabilities, LinuxDevice, LinuxSeccomp } from './runtime-spec.js'
import { ensureCapabilities, ensureLinux, ensureProcess, ensureResources } from './spec-sections.js'
import type { SpecOption } from './spec-options.js'

/** Capability changes, as the two Docker flags. */
export interface CapabilityChanges {
  /** `--cap-add`: names with or without `CAP_`, any case, or `ALL`. */
  add?: readonly string[]
  /** `--cap-drop`: names with or without `CAP_`, any case, or `ALL`. */
  drop?: readonly string[]
}

/**
 * Adds and drops capabilities with Docker's precedence, whatever the order of the lists: dropping `ALL`
 * empties the sets first, then additions apply (`ALL` grants every known capability), then the other drops.
 * Bounding, effective and permitted change together; drops also leave the inheritable set.
 *
 * @throws InvalidArgumentError for an unknown capability name.
 */
export function withCapabilities(changes: CapabilityChanges): SpecOption {
  const add = dedupe(changes.add ?? [])
  const drop = dedupe(changes.drop ?? [])
  const dropAll = drop.some(isAllCapabilities)
  const addAll = add.some(isAllCapabilities)
  const added = addAll ? [] : add.map((c) => normalizeCapability(c, '--cap-add'))
  const dropped = dropAll ? [] : drop.map((c) => normalizeCapability(c, '--cap-drop'))
  return (spec) => {
    const caps = ensureCapabilities(spec)
    if (dropAll) setCapabilities(caps, [])
    if (addAll) setCapabilities(caps, KNOWN_CAPABILITIES)
    for (const c of added) {
      for (const set of ['bounding', 'effective', 'permitted'] as const) {
        const list = caps[set] ?? []
        if (!list.includes(c)) caps[set] = [...list, c]
      }
    }
    for (const c of dropped) {
      for (const set of ['bounding', 'effective', 'permitted', 'inheritable'] as const) {
        const list = caps[set]
        if (list !== undefined) caps[set] = list.filter((x) => x !== c)
      }
    }
  }
}

/** Options for {@link withPrivileged}. */
export interface PrivilegedOptions {
  /**
   * The capabilities to grant; defaults to every known one. containerd grants the caller's own effective
   * set, which differs only when the daemon itself runs with fewer (e.g. in a restricted container).
   */
  capabilities?: readonly string[]
  /** Host device nodes to create in the container (nerdctl adds every node under the host's `/dev`). */
  hostDevices?: readonly LinuxDevice[]
}

/**
 * Makes the container privileged (`--privileged`), as containerd's `WithPrivileged` plus what nerdctl adds:
 * every capability, no masked or read-only paths, sysfs and cgroupfs writable, no seccomp, AppArmor or
 * SELinux confinement, every device allowed by the device cgroup, and `noNewPrivileges` off.
 */
export function withPrivileged(options: PrivilegedOptions = {}): SpecOption {
  const capabilities = options.capabilities?.map((c) => normalizeCapability(c, '--privileged')) ?? [...KNOWN_CAPABILITIES]
  const devices = options.hostDevices?.map((d) => ({ ...d })) ?? []
  return (spec) => {
    setCapabilities(ensureCapabilities(spec), capabilities)
    const linux = ensureLinux(spec)
    delete linux.maskedPaths
    delete linux.readonlyPaths
    delete linux.seccomp
    for (const mount of spec.mounts ?? []) {
      if (mount.type === 'sysfs' || mount.type === 'cgroup') {
        if (mount.options !== undefined) mount.options = mount.options.map((o) => (o === 'ro' ? 'rw' : o))
      }
    }
    const process = ensureProcess(spec)
    delete process.selinuxLabel
    delete process.apparmorProfile
    process.noNewPrivileges = false
    ensureResources(spec).devices = [{ allow: true, access: 'rwm' }]
    if (devices.length > 0) linux.devices = [...(linux.devices ?? []), ...devices]
  }
}

/**
 * Sets `no_new_privs` for the process. containerd's default spec turns it on; Docker and nerdctl turn it off
 * unless `--security-opt no-new-privileges` asks for it, so setuid binaries (`su`, `ping`) keep working.
 */
export function withNoNewPrivileges(enabled = true): SpecOption {
  return (spec) => {
    ensureProcess(spec).noNewPrivileges = enabled
  }
}

/**
 * Sets containerd's default seccomp profile (nerdctl's default, Docker-equivalent), computed from the
 * spec's bounding capabilities at the time it is applied: apply it after every capability option.
 */
export function withDefaultSeccomp(options: DefaultSeccompOptions = {}): SpecOption {
  return (spec) => {
    ensureLinux(spec).seccomp = defaultSeccompProfile(spec, options)
  }
}

/**
 * Sets a seccomp profile, or removes confinement with `'unconfined'`.
 *
 * @throws InvalidArgumentError for a profile without a `defaultAction`.
 */
export function withSeccompProfile(profile: LinuxSeccomp | 'unconfined'): SpecOption {
  if (profile === 'unconfined') {
    return (spec) => {
      delete ensureLinux(spec).seccomp
    }
  }
  checkProfile(profile)
  const copy = structuredClone(profile)
  return (spec) => {
    ensureLinux(spec).seccomp = structuredClone(copy)
  }
}

/** A `--security-opt` in object form, for a seccomp profile already parsed. */
export interface SeccompSecurityOpt {
  /** The profile, or `unconfined`, or `builtin` for the default profile. */
  seccomp: LinuxSeccomp | 'unconfined' | 'builtin'
}

/**
 * Applies one `--security-opt`:
 * - `seccomp=unconfined`, `seccomp=builtin`, `seccomp=<profile JSON text>` (or `{ seccomp: profile }`);
 *   a file path is not read here: read the file and pass its contents;
 * - `apparmor=<profile>` or `apparmor=unconfined`;
 * - `no-new-privileges` (optionally `=true|false`);
 * - `systempaths=unconfined` (no masked or read-only paths).
 * Docker's `key:value` spelling is accepted too.
 *
 * @throws InvalidArgumentError for an unknown option, a bad value, or a profile that is not valid JSON.
 */
export function withSecurityOpt(opt: string | SeccompSecurityOpt): SpecOption {
  if (typeof opt !== 'string') return seccompOption(opt.seccomp)
  const sep = /[=:]/.exec(opt)
  const key = sep === null ? opt : opt.slice(0, sep.index)
  const value = sep === null ? undefined : opt.slice(sep.index + 1)
  switch (key) {
    case 'seccomp':
      return seccompOption(parseSeccompValue(value))
    case 'apparmor': {
      if (value === undefined || value === '') {
        throw new InvalidArgumentError('--security-opt: apparmor needs a profile; write apparmor=<profile> or apparmor=unconfined')
      }
      return (spec) => {
        const process = ensureProcess(spec)
        if (value === 'unconfined') delete process.apparmorProfile
        else process.apparmorProfile = value
      }
    }
    case 'no-new-privileges': {
      const enabled = value === undefined || value === '' ? true : parseBool(value, opt)
      return (spec) => {
        ensureProcess(spec).noNewPrivileges = enabled
      }
    }
    case 'systempaths':
      if (value !== 'unconfined') {
        throw new InvalidArgumentError(`--security-opt: "${opt}" is not supported; the only systempaths value is unconfined`)
      }
      return (spec) => {
        const linux = ensureLinux(spec)
        delete linux.maskedPaths
        delete linux.readonlyPaths
      }
    default:
      throw new InvalidArgumentError(
        `--security-opt: unknown option "${opt}"; use seccomp=…, apparmor=…, no-new-privileges or systempaths=unconfined`,
      )
  }
}

function parseSeccompValue(value: string | undefined): LinuxSeccomp | 'unconfined' | 'builtin' {
  if (value === undefined || value === '') {
    throw new InvalidArgumentError('--security-opt: seccomp needs a value; write seccomp=unconfined, seccomp=builtin or seccomp=<profile JSON>')
  }
  if (value === 'unconfined' || value === 'builtin') return value
  if (!value.trimStart().startsWith('{')) {
    throw new InvalidArgumentError(
      `--security-opt: seccomp="${value}" looks like a file path; files are not read here: read the profile and pass its JSON text or the parsed object`,
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch (err) {
    throw new InvalidArgumentError(`--security-opt: the seccomp profile is not valid JSON (${(err as Error).message})`, { cause: err })
  }
  return parsed as LinuxSeccomp
}

function seccompOption(profile: LinuxSeccomp | 'unconfined' | 'builtin'): SpecOption {
  if (profile === 'builtin') return withDefaultSeccomp()
  return withSeccompProfile(profile)
}

function checkProfile(profile: LinuxSeccomp): void {
  if (typeof profile !== 'object' || profile === null || typeof profile.defaultAction !== 'string') {
    throw new InvalidArgumentError('--security-opt: the seccomp profile has no "defaultAction"; pass a runtime-spec LinuxSeccomp object (e.g. Docker\'s profile JSON)')
  }
}

// Go's strconv.ParseBool spellings, which Docker and nerdctl accept.
function parseBool(value: string, opt: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false
  throw new InvalidArgumentError(`--security-opt: "${opt}" has a value that is not a boolean; write true or false`)
}

// Sets bounding, effective and permitted to `caps`; the inheritable set keeps only what `caps` still holds.
function setCapabilities(caps: LinuxCapabilities, list: readonly string[]): void {
  caps.bounding = [...list]
  caps.effective = [...list]
  caps.permitted = [...list]
  if (list.length === 0) delete caps.inheritable
  else if (caps.inheritable !== undefined) caps.inheritable = caps.inheritable.filter((c) => list.includes(c))
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)]
}

