/**
 * Go `os.FileMode` bits, as fsutil puts them on the wire.
 *
 * fsutil sends `uint32(fi.Mode())`: Go's own encoding, with the file type in the top bits and the
 * permissions in the low nine. Unix `S_IF*` bits never appear; a receiver that got them would see a
 * regular file with odd permissions.
 */

import type { BigIntStats } from 'node:fs'

/** The Go `os.FileMode` bits fsutil uses (all as unsigned 32-bit numbers). */
export const GoMode = {
  /** `ModeDir`, 1<<31. */
  dir: 0x8000_0000,
  /** `ModeSymlink`, 1<<27. */
  symlink: 1 << 27,
  /** `ModeDevice`, 1<<26 (block devices; with `charDevice` for character devices). */
  device: 1 << 26,
  /** `ModeNamedPipe`, 1<<25. */
  namedPipe: 1 << 25,
  /** `ModeSocket`, 1<<24. */
  socket: 1 << 24,
  /** `ModeSetuid`, 1<<23. */
  setuid: 1 << 23,
  /** `ModeSetgid`, 1<<22. */
  setgid: 1 << 22,
  /** `ModeCharDevice`, 1<<21 (always together with `device`). */
  charDevice: 1 << 21,
  /** `ModeSticky`, 1<<20. */
  sticky: 1 << 20,
  /** `ModeIrregular`, 1<<19 (not produced from lstat; part of the type mask). */
  irregular: 1 << 19,
  /** `ModePerm`, the nine permission bits. */
  perm: 0o777,
} as const

/** Go's `ModeType`: every file type bit. A mode with none of them is a regular file. */
export const GO_MODE_TYPE =
  (GoMode.dir | GoMode.symlink | GoMode.namedPipe | GoMode.socket | GoMode.device | GoMode.charDevice | GoMode.irregular) >>> 0

// Unix st_mode pieces (octal, as in <sys/stat.h>).
const S_IFMT = 0o170000n
const S_IFSOCK = 0o140000n
const S_IFLNK = 0o120000n
const S_IFBLK = 0o060000n
const S_IFDIR = 0o040000n
const S_IFCHR = 0o020000n
const S_IFIFO = 0o010000n
const S_ISUID = 0o4000n
const S_ISGID = 0o2000n
const S_ISVTX = 0o1000n

/**
 * The Go `os.FileMode` of an `lstat({ bigint: true })` result, as Go's `fileStat.Mode()` computes it on Linux.
 * @returns an unsigned 32-bit number.
 */
export function goFileMode(stats: Pick<BigIntStats, 'mode'>): number {
  const m = stats.mode
  let mode = Number(m & 0o777n)
  switch (m & S_IFMT) {
    case S_IFBLK:
      mode |= GoMode.device
      break
    case S_IFCHR:
      mode |= GoMode.device | GoMode.charDevice
      break
    case S_IFDIR:
      mode |= GoMode.dir
      break
    case S_IFIFO:
      mode |= GoMode.namedPipe
      break
    case S_IFLNK:
      mode |= GoMode.symlink
      break
    case S_IFSOCK:
      mode |= GoMode.socket
      break
    default:
      break
  }
  if ((m & S_ISUID) !== 0n) mode |= GoMode.setuid
  if ((m & S_ISGID) !== 0n) mode |= GoMode.setgid
  if ((m & S_ISVTX) !== 0n) mode |= GoMode.sticky
  // `|` works on signed 32-bit numbers: the dir bit would make the result negative without this.
  return mode >>> 0
}

/** Whether a Go mode is a regular file: the only entries whose contents travel (fsutil's `fileCanRequestData`). */
export function isRegularGoMode(mode: number): boolean {
  return (mode & GO_MODE_TYPE) === 0
}

/** Whether a Go mode is a directory. */
export function isDirGoMode(mode: number): boolean {
  return (mode & GoMode.dir) !== 0
}

/** Whether a Go mode is a symbolic link. */
export function isSymlinkGoMode(mode: number): boolean {
  return (mode & GoMode.symlink) !== 0
}

/**
 * The `chmod` argument for a Go mode: permissions plus setuid, setgid and sticky as Unix bits.
 * @returns a number for `fs.chmod`.
 */
export function unixPermissions(mode: number): number {
  let perm = mode & GoMode.perm
  if ((mode & GoMode.setuid) !== 0) perm |= Number(S_ISUID)
  if ((mode & GoMode.setgid) !== 0) perm |= Number(S_ISGID)
  if ((mode & GoMode.sticky) !== 0) perm |= Number(S_ISVTX)
  return perm
}
