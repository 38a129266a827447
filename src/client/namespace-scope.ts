import type { NamespaceGuard } from './namespace-guard.js'

/** The namespace a store acts in, and the guard that undoes an implicit creation when a call fails. */
export interface NamespaceScope {
  readonly namespace: string
  readonly guard: NamespaceGuard
}
