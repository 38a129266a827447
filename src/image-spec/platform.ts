import type { OciDescriptor } from './descriptor.js'
import { InvalidArgumentError } from '../grpc/errors.js'

/** An OS/architecture/variant triple, as in image indexes. */
export interface PlatformSpec {
  /** e.g. `linux`. */
  os: string
  /** GOARCH terms, e.g. `amd64`, `arm64`, `arm`. */
  architecture: string
  /** e.g. `v7` for arm, `v8` for arm64. */
  variant?: string
}

/** The platform of this process in OCI terms (`linux/amd64`, `linux/arm64`, `linux/arm/v7`). */
export function hostPlatform(): PlatformSpec {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch
  const os = process.platform === 'win32' ? 'windows' : process.platform
  return arch === 'arm' ? { os, architecture: arch, variant: 'v7' } : { os, architecture: arch }
}

/**
 * Parses `os[/arch[/variant]]` (`linux/arm64`, `linux/arm/v7`); a bare architecture means linux.
 * @throws InvalidArgumentError for anything else.
 */
export function parsePlatform(value: string): PlatformSpec {
  const parts = value.toLowerCase().split('/')
  if (parts.some((p) => p === '') || parts.length > 3) {
    throw new InvalidArgumentError(`"${value}" is not a platform: expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7`)
  }
  const knownOs = ['linux', 'windows', 'darwin', 'freebsd']
  const [first, second, third] = parts as [string, string | undefined, string | undefined]
  const spec: PlatformSpec = second === undefined && !knownOs.includes(first)
    ? { os: 'linux', architecture: first }
    : { os: first, architecture: second ?? hostPlatform().architecture }
  if (third !== undefined) spec.variant = third
  return normalizePlatform(spec)
}

/** Normalizes aliases the way containerd does (`x86_64` → `amd64`, `aarch64` → `arm64`, arm64 `v8` dropped). */
export function normalizePlatform(p: PlatformSpec): PlatformSpec {
  const architecture = ({ x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm' } as Record<string, string>)[p.architecture] ?? p.architecture
  const out: PlatformSpec = { os: p.os.toLowerCase(), architecture }
  let variant = p.variant
  if (architecture === 'arm64' && variant === 'v8') variant = undefined
  if (architecture === 'arm' && variant === undefined) variant = 'v7'
  if (variant !== undefined) out.variant = variant
  return out
}

/** True when an image built for `candidate` runs on `wanted` (same os and arch; arm variants at or below). */
export function platformMatches(wanted: PlatformSpec, candidate: PlatformSpec): boolean {
  const w = normalizePlatform(wanted)
  const c = normalizePlatform(candidate)
  if (w.os !== c.os || w.architecture !== c.architecture) return false
  if (w.variant === undefined || c.variant === undefined) return true
  if (w.architecture === 'arm') return Number(c.variant.slice(1)) <= Number(w.variant.slice(1))
  return w.variant === c.variant
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: PlatformSpec): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/')
}

/** The platform of an index entry, when it has one (the descriptor's spec field names mapped to ours). */
export function descriptorPlatform(desc: Pick<OciDescriptor, 'platform'>): PlatformSpec | undefined {
  const p = desc.platform
  if (p === undefined) return undefined
  return p.variant === undefined ? { os: p.os, architecture: p.architecture } : { os: p.os, architecture: p.architecture, variant: p.variant }
}
