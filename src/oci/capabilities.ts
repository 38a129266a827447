/**
 * Linux capability names.
 *
 * The list is indexed by capability number (CAP_CHOWN is 0), up to CAP_CHECKPOINT_RESTORE (40, Linux 5.9),
 * the newest the kernel defines; it is what containerd's `pkg/cap` calls the known set and what a
 * privileged container receives here.
 */

import { InvalidArgumentError } from '../grpc/errors.js'

/** Every capability the kernel defines, in number order. */
export const KNOWN_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
])

const known = new Set(KNOWN_CAPABILITIES)

/**
 * Turns a user-written capability name (`net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN`) into the spec's form
 * (`CAP_NET_ADMIN`). `ALL` is not a capability: callers handle it before calling this.
 *
 * @param flag the option being parsed, named in the error (e.g. `--cap-add`).
 * @throws InvalidArgumentError for an empty or unknown name.
 */
export function normalizeCapability(name: string, flag: string): string {
  const trimmed = name.trim()
  if (trimmed === '') throw new InvalidArgumentError(`${flag}: empty capability name; write a name such as NET_ADMIN`)
  const upper = trimmed.toUpperCase()
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`
  // Unlike nerdctl (which only warns), an unknown name is an error: the list above is complete, so an
  // unknown name is a typo that would otherwise surface later as a runtime failure.
  if (!known.has(full)) {
    throw new InvalidArgumentError(`${flag}: unknown capability "${name}"; use a name from capabilities(7) such as NET_ADMIN or SYS_PTRACE`)
  }
  return full
}

/** True when the name means "every capability" (`ALL`, any case, with or without `CAP_`). */
export function isAllCapabilities(name: string): boolean {
  const upper = name.trim().toUpperCase()
  return upper === 'ALL' || upper === 'CAP_ALL'
}

/**
 * The names of the capabilities set in a mask as `/proc/<pid>/status` prints it (`CapBnd: 000001ffffffffff`),
 * in number order. Bits beyond {@link KNOWN_CAPABILITIES} are ignored.
 *
 * @throws InvalidArgumentError when the text is not a hexadecimal mask.
 */
export function capabilitiesFromMask(hex: string): string[] {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex.trim())) throw new InvalidArgumentError(`capability mask "${hex}" is not hexadecimal`)
  const mask = BigInt(`0x${hex.trim()}`)
  return KNOWN_CAPABILITIES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) === 1n)
}
