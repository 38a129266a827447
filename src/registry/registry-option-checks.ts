/**
 * Run-time checks of the registry option objects that pull, push and login take (`auth`, `registry`),
 * for callers in plain JavaScript: `{ user, password }` would otherwise pull anonymously without a word.
 * The known-key lists live here rather than beside `RegistryOptions` and the credential types, whose
 * modules hold no checks; `keysOf` still fails the build when those types gain a key.
 */

import { checkOptionKeys, describe, keysOf } from '../client/option-check.js'
import { InvalidArgumentError } from '../grpc/errors.js'
import type { RegistryCredentials } from './credentials.js'
import type { RegistryOptions } from './registry-access.js'

/** The keys of {@link RegistryOptions}. */
export const REGISTRY_OPTION_KEYS = keysOf<RegistryOptions>()({ configDirs: true, insecure: true })

/** The keys of {@link RegistryCredentials}: a username and password, or an identity token. */
export const CREDENTIAL_KEYS = keysOf<RegistryCredentials>()({ username: true, password: true, identityToken: true })

/**
 * Checks a `registry` option: an object with known keys, its lists arrays of strings.
 * @param where the call and option, for messages (`pull() registry`).
 * @throws InvalidArgumentError naming the key or value and the fix.
 */
export function checkRegistryOptions(registry: unknown, where: string): void {
  checkOptionKeys(registry, REGISTRY_OPTION_KEYS, where)
  if (registry === undefined) return
  for (const key of ['configDirs', 'insecure'] as const) {
    const value: unknown = (registry as Record<string, unknown>)[key]
    if (value !== undefined && (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))) {
      throw new InvalidArgumentError(`${where} ${key} must be an array of strings, e.g. ${key === 'insecure' ? "['localhost:5000']" : "['/etc/containerd/certs.d']"}; got ${describe(value)}`)
    }
  }
}

/**
 * Checks an `auth` option: a credentials provider (a function), or `{ username, password }` or
 * `{ identityToken }` with string values and no other key.
 * @param where the call and option, for messages (`pull() auth`).
 * @throws InvalidArgumentError naming the key or value and the fix.
 */
export function checkAuthOption(auth: unknown, where: string): void {
  if (auth === undefined || typeof auth === 'function') return
  checkOptionKeys(auth, CREDENTIAL_KEYS, where)
  const creds = auth as Record<string, unknown>
  const password = 'username' in creds || 'password' in creds
  if (password && 'identityToken' in creds) throw new InvalidArgumentError(`${where}: give { username, password } or { identityToken }, not both`)
  const wanted = password ? (['username', 'password'] as const) : (['identityToken'] as const)
  for (const key of wanted) {
    if (typeof creds[key] !== 'string') {
      throw new InvalidArgumentError(`${where} ${key} must be a string, got ${describe(creds[key])}; give { username, password }, { identityToken }, or a function returning them per host`)
    }
  }
}
