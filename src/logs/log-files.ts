import { readdir, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** One file of a rotated log. */
export interface LogFileInfo {
  /** Its path. */
  path: string
  /** Its inode: a file keeps it across renames, which is how a reader keeps its place through rotation. */
  ino: number
  /** Its size when listed. */
  size: number
}

/**
 * The files of a log in the order they were written: `<log>.N` … `<log>.1` (Docker's rotation names,
 * `.1` the newest rotated), then `<log>` itself. Missing files are skipped; compressed ones (`.gz`) are
 * not read.
 */
export async function listLogFiles(logPath: string): Promise<LogFileInfo[]> {
  const dir = dirname(logPath)
  const base = basename(logPath)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const ordered = rotationOrder(base, [...names, base]).map((name) => join(dir, name))
  const files: LogFileInfo[] = []
  for (const path of ordered) {
    try {
      const s = await stat(path)
      if (s.isFile()) files.push({ path, ino: s.ino, size: s.size })
    } catch {
      // Rotated away or removed while listing.
    }
  }
  return files
}

/**
 * {@link listLogFiles}, taken until two listings in a row agree. One listing is not atomic: a rotation
 * while it is taken can make it miss a file (stat-ed between two renames) or show one twice. A rotation
 * gives every file a new name and adds a new inode, so two equal listings saw none. Bounded: after 10
 * tries the last listing is returned.
 */
export async function listLogFilesStable(logPath: string): Promise<LogFileInfo[]> {
  let previous = await listLogFiles(logPath)
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await listLogFiles(logPath)
    if (current.length === previous.length && current.every((f, i) => f.ino === previous[i]?.ino && f.path === previous[i]?.path)) return current
    previous = current
    await sleep(2)
  }
  return previous
}

/** The pure ordering rule of {@link listLogFiles}: which names belong to the log, oldest first. */
export function rotationOrder(base: string, names: readonly string[]): string[] {
  // Only `<base>.<digits>`: `<base>.1.gz` (compressed) and other files in the dir are not the log.
  const rotated = names
    .map((name) => ({ name, m: name.startsWith(`${base}.`) ? /^(\d+)$/.exec(name.slice(base.length + 1)) : null }))
    .filter((r): r is { name: string; m: RegExpExecArray } => r.m !== null)
    .sort((a, b) => Number(b.m[1]) - Number(a.m[1]))
    .map((r) => r.name)
  return names.includes(base) ? [...new Set(rotated), base] : [...new Set(rotated)]
}
