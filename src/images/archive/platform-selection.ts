import type { OciDescriptor } from '../../image-spec/descriptor.js'
import { descriptorPlatform, formatPlatform, hostPlatform, normalizePlatform, parsePlatform, platformMatches, type PlatformSpec } from '../../image-spec/platform.js'

/** Which manifests of a multi-platform index an import or export takes. */
export interface PlatformSelection {
  /** Every manifest, whatever its platform. */
  all: boolean
  /** Otherwise the manifests that run on one of these (never empty). */
  platforms: PlatformSpec[]
}

/** Builds a selection from options: `all`, or the given platforms, or this host's. */
export function platformSelection(all: boolean | undefined, platforms: readonly (string | PlatformSpec)[] | undefined): PlatformSelection {
  const list = platforms === undefined || platforms.length === 0 ? [hostPlatform()] : platforms.map(toSpec)
  return { all: all === true, platforms: list }
}

/** A string or spec as a normalized spec. */
export function toSpec(p: string | PlatformSpec): PlatformSpec {
  return typeof p === 'string' ? parsePlatform(p) : normalizePlatform(p)
}

/**
 * True when the selection takes an index entry. Entries without a platform are taken, as containerd
 * does: nothing says they belong to another platform.
 */
export function selects(selection: PlatformSelection, desc: OciDescriptor): boolean {
  if (selection.all) return true
  const platform = descriptorPlatform(desc)
  return platform === undefined || selection.platforms.some((wanted) => platformMatches(wanted, platform))
}

/**
 * The entry that best fits `wanted` among those with a platform: an exact match first, else the first
 * compatible one (an arm/v6 image for an arm/v7 host). Undefined when none fits.
 */
export function bestMatch<T extends { platform?: PlatformSpec | undefined }>(wanted: PlatformSpec, candidates: readonly T[]): T | undefined {
  const w = normalizePlatform(wanted)
  const fitting = candidates.filter((c) => c.platform !== undefined && platformMatches(w, c.platform))
  return fitting.find((c) => formatPlatform(normalizePlatform(c.platform as PlatformSpec)) === formatPlatform(w)) ?? fitting[0]
}

/** `linux/amd64, linux/arm64` for messages. */
export function describePlatforms(descs: readonly OciDescriptor[]): string {
  const names = descs.map(descriptorPlatform).filter((p): p is PlatformSpec => p !== undefined).map(formatPlatform)
  return names.length === 0 ? 'none' : [...new Set(names)].join(', ')
}
