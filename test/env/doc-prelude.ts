/**
 * What a ```ts snippet block of the docs may use without declaring it: the things the prose around it
 * has set up. Snippets are type-checked with these in scope (each snippet may redeclare any of them) and
 * never run, so the values are declarations only. Programs (plain ```ts blocks) do not see them.
 */
import type { Client, Container, Image, RegistryCredentials, Task } from '../../src/index.js'

/** The names a snippet finds in scope, with their types. */
export interface DocPrelude {
  /** A connected client. */
  client: Client
  /** An image of the client's namespace, pulled and unpacked. */
  image: Image
  /** A container created from it. */
  container: Container
  /** The container's task. */
  task: Task
  /** An image reference. */
  ref: string
  /** Registry credentials. */
  auth: RegistryCredentials
}

/** Every key of {@link DocPrelude} (`satisfies` keeps the list complete and exact). */
const PRELUDE_KEYS = { client: true, image: true, container: true, task: true, ref: true, auth: true } satisfies Record<keyof DocPrelude, true>

/** The names a snippet's wrapper destructures from {@link prelude}. */
export const PRELUDE_NAMES: readonly (keyof DocPrelude)[] = Object.keys(PRELUDE_KEYS) as (keyof DocPrelude)[]

/** Declared only: snippets are type-checked, never run. */
export declare const prelude: DocPrelude
