import { open, stat, type FileHandle } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { listLogFiles, listLogFilesStable, type LogFileInfo } from './log-files.js'

/** Bytes read per call; a json-file record is at most ~100 KiB (16 KiB of text, escaped). */
export const READ_CHUNK = 64 * 1024

/** A reader's place in one file of a log, kept by inode so renames (rotation) do not lose it. */
export interface LogCursor {
  handle: FileHandle
  ino: number
  offset: number
  /** Bytes after the last newline read: a record the logger is still writing. */
  pending: Buffer
}

/** What is next for a cursor at the end of its file. */
export type CursorStep = { kind: 'live' } | { kind: 'truncated' } | { kind: 'next'; file: LogFileInfo }

/**
 * Opens a file of the log at an offset. Returns undefined if it vanished (rotated out) meanwhile, or if
 * the path now holds another file than the listing saw.
 */
export async function openCursor(file: LogFileInfo, offset = 0): Promise<LogCursor | undefined> {
  let handle: FileHandle
  try {
    handle = await open(file.path, 'r')
  } catch (err) {
    // Gone (rotated away or removed) is a race to decide again; anything else (EACCES, EMFILE) is real.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const s = await handle.stat()
  if (s.ino !== file.ino) {
    await handle.close()
    return undefined
  }
  return { handle, ino: s.ino, offset, pending: Buffer.alloc(0) }
}

/**
 * Reads the cursor's file from its offset to its current end, yielding each complete line (without the
 * newline). The loop ends at end of file; each round reads more bytes, so it always progresses.
 */
export async function* readLines(cursor: LogCursor): AsyncGenerator<string> {
  const buf = Buffer.allocUnsafe(READ_CHUNK)
  for (;;) {
    const { bytesRead } = await cursor.handle.read(buf, 0, READ_CHUNK, cursor.offset)
    if (bytesRead === 0) return
    cursor.offset += bytesRead
    const data = cursor.pending.length === 0 ? buf.subarray(0, bytesRead) : Buffer.concat([cursor.pending, buf.subarray(0, bytesRead)])
    let start = 0
    // Lines are taken out as strings before the next read reuses buf.
    const lines: string[] = []
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
      lines.push(data.toString('utf8', start, nl))
      start = nl + 1
    }
    cursor.pending = Buffer.from(data.subarray(start))
    yield* lines
  }
}

/** The rotation number of a log file's name: 0 for the live log, k for `<log>.k`. */
function rotationIndex(logPath: string, path: string): number {
  return path === logPath ? 0 : Number(path.slice(logPath.length + 1))
}

/**
 * Decides where a cursor at the end of its file goes next: stay (it is the live log), start over (the
 * live log was truncated in place, `max-file` 1), or move to the file written after it.
 *
 * A directory listing is not atomic, and the logger may rotate while it is taken (rename `.k` → `.k+1`
 * from the oldest down, then the log → `.1`). So the successor found by inode must sit at the next
 * newer name (`.k-1` after `.k`), and is confirmed by stat-ing it and then the cursor's own file again
 * under those names: renames go from the oldest name down, so while the cursor's file has not moved, the
 * names below it have not changed either. An unconfirmed view is retried (bounded); a cursor
 * whose file was deleted (pruned by `max-file`) goes to the oldest file left, since pruning removes the
 * oldest files first.
 */
export async function nextStep(logPath: string, cursor: LogCursor): Promise<CursorStep> {
  for (let attempt = 0; attempt < 20; attempt++) {
    if (attempt > 0) await sleep(2)
    const live = await stat(logPath).catch(() => undefined)
    if (live !== undefined && live.ino === cursor.ino) {
      return live.size < cursor.offset ? { kind: 'truncated' } : { kind: 'live' }
    }
    const files = await listLogFiles(logPath)
    const index = files.findIndex((f) => f.ino === cursor.ino)
    if (index === -1) {
      if ((await cursor.handle.stat()).nlink > 0) continue
      const oldest = (await listLogFilesStable(logPath))[0]
      return oldest === undefined ? { kind: 'live' } : { kind: 'next', file: oldest }
    }
    const own = files[index] as LogFileInfo
    const next = files[index + 1]
    // Newest in the listing but not the live log: the logger is between renaming it and creating the next.
    if (next === undefined) continue
    // A listing that missed a file (stat-ed in the gap between two renames) is not adjacent.
    if (rotationIndex(logPath, own.path) !== rotationIndex(logPath, next.path) + 1) continue
    const nextNow = await stat(next.path).catch(() => undefined)
    const ownNow = await stat(own.path).catch(() => undefined)
    if (nextNow?.ino === next.ino && ownNow?.ino === cursor.ino) return { kind: 'next', file: next }
  }
  // Rotating faster than a stable view can be taken: the caller waits and asks again.
  return { kind: 'live' }
}
