import { open, stat, type FileHandle } from 'node:fs/promises'
import { listLogFiles, type LogFileInfo } from './log-files.js'

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
  } catch {
    return undefined
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

/**
 * Decides where a cursor at the end of its file goes next: stay (it is the live log), start over (the
 * live log was truncated in place, `max-file` 1), or move to the file written after it (found by inode
 * among the rotated names; if its own file was already removed, the oldest one left).
 */
export async function nextStep(logPath: string, cursor: LogCursor): Promise<CursorStep> {
  const live = await stat(logPath).catch(() => undefined)
  if (live !== undefined && live.ino === cursor.ino) {
    return live.size < cursor.offset ? { kind: 'truncated' } : { kind: 'live' }
  }
  const files = await listLogFiles(logPath)
  const index = files.findIndex((f) => f.ino === cursor.ino)
  const next = index === -1 ? files[0] : files[index + 1]
  // No newer file yet (the logger is between renaming the log and creating the new one): wait.
  return next === undefined ? { kind: 'live' } : { kind: 'next', file: next }
}
