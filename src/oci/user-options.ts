/**
 * Options for the process's identity: `--user` and `--group-add`, resolved against the image's account
 * files passed as text.
 */

import { ensureProcess } from './spec-sections.js'
import type { SpecOption } from './spec-options.js'
import { resolveGroups, resolveUser, withPrimary, type UserDatabase } from './user-database.js'

/**
 * Runs the process as `user` (`--user`: `name`, `uid`, `name:group`, `uid:gid`, …), with the supplementary
 * groups `/etc/group` gives that user. Replaces any earlier user and groups; the umask is kept.
 *
 * @param db the image's `/etc/passwd` and `/etc/group` text; names need it, numeric ids do not.
 * @throws InvalidArgumentError for a malformed value or an unknown user or group, naming it.
 */
export function withUser(user: string, db: UserDatabase = {}): SpecOption {
  const resolved = resolveUser(user, db, '--user')
  return (spec) => {
    const process = ensureProcess(spec)
    process.user = { ...process.user, uid: resolved.uid, gid: resolved.gid, additionalGids: [...resolved.additionalGids] }
  }
}

/**
 * Adds supplementary groups (`--group-add`), numeric gids or names from `/etc/group`. Apply it after the
 * user is set (`withImageConfig`, `withUser`), which resets the groups.
 *
 * @throws InvalidArgumentError for an unknown group name.
 */
export function withGroupAdd(groups: readonly string[], db: UserDatabase = {}): SpecOption {
  const gids = resolveGroups(groups, db)
  return (spec) => {
    const user = ensureProcess(spec).user
    const merged = [...(user.additionalGids ?? [])]
    for (const gid of gids) if (!merged.includes(gid)) merged.push(gid)
    user.additionalGids = withPrimary(user.gid, merged)
  }
}
