/**
 * CNI spec versions: comparing them (CHECK and cached results on DEL need 0.4.0 or later) and the
 * VERSION command's answer.
 */

import { isObject } from './cni-result.js'

/** What a plugin answers to VERSION (CNI spec §"VERSION"). */
export interface CniVersionInfo {
  /** The spec version the answer is written in. */
  cniVersion: string
  /** Every spec version the plugin can speak. */
  supportedVersions: string[]
}

/**
 * Compares two `major.minor.patch` spec versions.
 * @returns a negative number when `a` is older, 0 when equal, positive when newer; undefined when
 *   either does not parse.
 */
export function compareCniVersions(a: string, b: string): number | undefined {
  const pa = parseVersion(a)
  const pb = parseVersion(b)
  if (pa === undefined || pb === undefined) return undefined
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] as number) - (pb[i] as number)
    if (d !== 0) return d
  }
  return 0
}

/** Whether `version` parses as `major.minor.patch` (the form every CNI spec version has). */
export function isCniVersion(version: string): boolean {
  return parseVersion(version) !== undefined
}

function parseVersion(version: string): [number, number, number] | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version)
  if (match === null) return undefined
  return [Number(match[1]), Number(match[2]), Number(match[3])]
}

/**
 * Reads a plugin's VERSION answer.
 * @returns the answer, or a description of what is wrong with it.
 */
export function parseVersionInfo(value: unknown): { info: CniVersionInfo } | { problem: string } {
  if (!isObject(value)) return { problem: 'the answer is not a JSON object' }
  const { cniVersion, supportedVersions } = value
  if (typeof cniVersion !== 'string') return { problem: 'the answer has no cniVersion' }
  if (!Array.isArray(supportedVersions) || !supportedVersions.every((v) => typeof v === 'string')) {
    return { problem: 'supportedVersions is not a list of strings' }
  }
  return { info: { cniVersion, supportedVersions: [...(supportedVersions as string[])] } }
}
