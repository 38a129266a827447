/**
 * User and group resolution against an image's `/etc/passwd` and `/etc/group`, given as text.
 *
 * containerd's Go client mounts the container's snapshot to read these files; here the caller reads them
 * however suits it (from the image layers, a mounted snapshot, a fixture) and passes the contents, so the
 * resolution itself stays pure. The rules are containerd's `WithUser`, `WithAdditionalGIDs` and
 * `WithAppendAdditionalGroups`.
 */

import { InvalidArgumentError } from '../grpc/errors.js'

/** The text of an image's account files; a missing member means the image has no such file. */
export interface UserDatabase {
  /** Contents of `/etc/passwd`. */
  passwd?: string
  /** Contents of `/etc/group`. */
  group?: string
}

/** One `/etc/passwd` line. */
export interface PasswdEntry {
  /** Login name. */
  name: string
  /** User id. */
  uid: number
  /** Primary group id. */
  gid: number
  /** Home directory. */
  home: string
  /** Login shell. */
  shell: string
}

/** One `/etc/group` line. */
export interface GroupEntry {
  /** Group name. */
  name: string
  /** Group id. */
  gid: number
  /** Names of the group's supplementary members. */
  members: string[]
}

/** A resolved process identity. */
export interface ResolvedUser {
  /** User id. */
  uid: number
  /** Primary group id. */
  gid: number
  /** Supplementary group ids, the primary gid first (containerd always includes it). */
  additionalGids: number[]
}

// runc requires ids to fit in a signed 32-bit integer, and containerd enforces the same bound.
const MAX_ID = 2 ** 31 - 1

/**
 * Parses `/etc/passwd` text (`name:password:uid:gid:gecos:home:shell`). Blank lines, `#` comments and lines
 * whose ids are not numbers are skipped: such a line could otherwise be mistaken for uid 0.
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = []
  for (const fields of records(text)) {
    const uid = parseId(fields[2])
    const gid = parseId(fields[3])
    if (uid === undefined || gid === undefined) continue
    out.push({ name: fields[0] ?? '', uid, gid, home: fields[5] ?? '', shell: fields[6] ?? '' })
  }
  return out
}

/** Parses `/etc/group` text (`name:password:gid:member,member`), skipping lines as {@link parsePasswd} does. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = []
  for (const fields of records(text)) {
    const gid = parseId(fields[2])
    if (gid === undefined) continue
    const list = fields[3] ?? ''
    out.push({ name: fields[0] ?? '', gid, members: list === '' ? [] : list.split(',').map((m) => m.trim()) })
  }
  return out
}

/**
 * Resolves an image-spec user string (`user`, `uid`, `user:group`, `uid:gid`, `uid:group`, `user:gid`) to
 * ids, with the supplementary groups the user is listed in.
 *
 * - A name must exist in the database; a numeric uid need not (its gid is then 0, as in containerd).
 * - With `:group`, the group replaces the user's primary group; a group name must exist.
 * - Supplementary groups are those naming the user as a member (found by uid), except a group named like
 *   the user; the primary gid always comes first.
 *
 * @param flag the option being resolved, named in errors (`USER`, `--user`).
 * @throws InvalidArgumentError for an empty part, an id out of range, or an unknown user or group.
 */
export function resolveUser(user: string, db: UserDatabase, flag = '--user'): ResolvedUser {
  const parts = user.split(':')
  if (parts.length > 2) {
    throw new InvalidArgumentError(`${flag}: "${user}" has too many ':'; write user, uid, user:group or uid:gid`)
  }
  const [userPart = '', groupPart] = parts
  if (userPart === '' || groupPart === '') {
    throw new InvalidArgumentError(`${flag}: "${user}" has an empty part; write user, uid, user:group or uid:gid`)
  }
  const passwd = db.passwd === undefined ? [] : parsePasswd(db.passwd)

  let uid: number
  let gid: number
  const numericUid = parseIdArg(userPart, flag, user, 'uid')
  if (numericUid !== undefined) {
    uid = numericUid
    gid = passwd.find((e) => e.uid === numericUid)?.gid ?? 0
  } else {
    const entry = passwd.find((e) => e.name === userPart)
    if (entry === undefined) throw unknownUser(flag, userPart, db)
    uid = entry.uid
    gid = entry.gid
  }

  if (groupPart !== undefined) {
    const numericGid = parseIdArg(groupPart, flag, user, 'gid')
    if (numericGid !== undefined) gid = numericGid
    else gid = lookupGroup(groupPart, db, flag).gid
  }

  return { uid, gid, additionalGids: withPrimary(gid, supplementaryGroups(uid, db)) }
}

/**
 * Resolves `--group-add` values: numbers are taken as gids, names are looked up in `/etc/group`.
 *
 * @throws InvalidArgumentError for an unknown group name.
 */
export function resolveGroups(groups: readonly string[], db: UserDatabase, flag = '--group-add'): number[] {
  return groups.map((group) => {
    if (/^\d+$/.test(group)) {
      const gid = Number(group)
      if (gid > 0xffffffff) throw new InvalidArgumentError(`${flag}: gid ${group} is out of range`)
      return gid
    }
    return lookupGroup(group, db, flag).gid
  })
}

/** Returns the list with `primary` in front unless it is already there, as containerd keeps it. */
export function withPrimary(primary: number, gids: readonly number[]): number[] {
  return gids.includes(primary) ? [...gids] : [primary, ...gids]
}

/**
 * The gids of the groups that list `username` as a member, in file order, leaving out a group named like
 * the user (that one is the user's primary group). Empty when there is no `/etc/group`.
 */
export function supplementaryGids(username: string, db: UserDatabase): number[] {
  if (db.group === undefined) return []
  return parseGroup(db.group)
    .filter((g) => g.name !== username && g.members.includes(username))
    .map((g) => g.gid)
}

// The supplementary groups of the user with this uid; none when the uid has no passwd entry.
function supplementaryGroups(uid: number, db: UserDatabase): number[] {
  if (db.passwd === undefined) return []
  const name = parsePasswd(db.passwd).find((e) => e.uid === uid)?.name
  return name === undefined ? [] : supplementaryGids(name, db)
}

function lookupGroup(name: string, db: UserDatabase, flag: string): GroupEntry {
  if (db.group === undefined) {
    throw new InvalidArgumentError(`${flag}: cannot resolve group "${name}": no /etc/group was given; pass the image's /etc/group text or use a numeric gid`)
  }
  const entry = parseGroup(db.group).find((g) => g.name === name)
  if (entry === undefined) {
    throw new InvalidArgumentError(`${flag}: unable to find group "${name}" in /etc/group; use a group the image defines or a numeric gid`)
  }
  return entry
}

function unknownUser(flag: string, name: string, db: UserDatabase): InvalidArgumentError {
  if (db.passwd === undefined) {
    return new InvalidArgumentError(`${flag}: cannot resolve user "${name}": no /etc/passwd was given; pass the image's /etc/passwd text or use a numeric uid[:gid]`)
  }
  return new InvalidArgumentError(`${flag}: unable to find user "${name}" in /etc/passwd; use a user the image defines or a numeric uid[:gid]`)
}

// A numeric user or group part, checked against runc's bound; undefined when the part is a name.
function parseIdArg(part: string, flag: string, whole: string, what: 'uid' | 'gid'): number | undefined {
  if (!/^[+-]?\d+$/.test(part)) return undefined
  const n = Number(part)
  if (n < 0 || n > MAX_ID) throw new InvalidArgumentError(`${flag}: invalid user "${whole}": ${what} out of range 0..${MAX_ID}`)
  return n
}

function parseId(field: string | undefined): number | undefined {
  if (field === undefined || !/^\d+$/.test(field)) return undefined
  const n = Number(field)
  return Number.isSafeInteger(n) ? n : undefined
}

function* records(text: string): Generator<string[]> {
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    yield line.split(':')
  }
}
