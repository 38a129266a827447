/**
 * Spec options: small functions that each change one aspect of a spec, applied in order.
 *
 * This mirrors containerd's `SpecOpts`, minus the context and client: everything an option needs (image
 * config, `/etc/passwd` text, a stat function) is passed to it, so options are plain synchronous functions
 * that are easy to test and to compose. Factories such as `withMemory('512m')` check their arguments when
 * called, so a bad flag fails before any spec is touched; what depends on the spec itself is checked when the
 * option is applied.
 */

import type { Spec } from './runtime-spec.js'

/** Changes a spec in place. May throw `InvalidArgumentError` when the spec cannot take the change. */
export type SpecOption = (spec: Spec) => void

/**
 * Applies options to a spec in order and returns the same (mutated) spec. Order matters where options touch
 * the same field; `withDefaultSeccomp` and `withInit` in particular belong after the options they read.
 */
export function applySpecOptions(spec: Spec, options: Iterable<SpecOption>): Spec {
  for (const option of options) option(spec)
  return spec
}

/** Combines several options into one that applies them in order. */
export function composeSpecOptions(...options: SpecOption[]): SpecOption {
  return (spec) => {
    for (const option of options) option(spec)
  }
}
