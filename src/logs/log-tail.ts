import type { FileHandle } from 'node:fs/promises'
import { openCursor, READ_CHUNK, type LogCursor } from './log-cursor.js'
import type { LogFileInfo } from './log-files.js'
import { parseJsonLogLine, type JsonLogRecord } from './log-entry.js'

/** A line longer than this while reading backwards is not a record (records are ≤ ~100 KiB). */
const MAX_LINE = 1024 * 1024

/** The last records of a log and where to continue reading after them. */
export interface TailResult {
  /** Up to `count` accepted records, oldest first. */
  records: JsonLogRecord[]
  /** A cursor on the live file just after its last complete line, or undefined if it vanished. */
  cursor: LogCursor | undefined
}

/**
 * Finds the last `count` records that `accept` takes, reading the files backwards from the newest, so
 * only the end of a long log is read. The live file is cut at its last newline: what follows is a record
 * still being written, read later by the cursor.
 */
export async function tailRecords(files: readonly LogFileInfo[], count: number, accept: (r: JsonLogRecord) => boolean): Promise<TailResult> {
  const newestFirst: JsonLogRecord[] = []
  let cursor: LogCursor | undefined
  for (let i = files.length - 1; i >= 0; i--) {
    const opened = await openCursor(files[i] as LogFileInfo)
    if (opened === undefined) continue
    const isLive = i === files.length - 1
    let keep = false
    try {
      const size = (await opened.handle.stat()).size
      const end = await lastNewline(opened.handle, size)
      if (isLive) {
        opened.offset = end + 1
        cursor = opened
        keep = true
      }
      if (newestFirst.length < count) {
        for await (const line of linesBackward(opened.handle, end)) {
          const record = parseJsonLogLine(line)
          if (record !== undefined && accept(record)) newestFirst.push(record)
          if (newestFirst.length >= count) break
        }
      }
    } finally {
      if (!keep) await opened.handle.close()
    }
    if (newestFirst.length >= count) break
  }
  return { records: newestFirst.reverse(), cursor }
}

/** The offset of the last `\n` before `size`, or -1 if there is none. */
async function lastNewline(handle: FileHandle, size: number): Promise<number> {
  const buf = Buffer.allocUnsafe(READ_CHUNK)
  for (let pos = size; pos > 0; ) {
    const len = Math.min(READ_CHUNK, pos)
    pos -= len
    const { bytesRead } = await handle.read(buf, 0, len, pos)
    const nl = buf.subarray(0, bytesRead).lastIndexOf(10)
    if (nl !== -1) return pos + nl
  }
  return -1
}

/**
 * Yields the lines of bytes [0, end) newest first (end is the offset of a newline, excluded). Reads a
 * chunk at a time; memory holds one chunk plus one line.
 */
export async function* linesBackward(handle: FileHandle, end: number): AsyncGenerator<string> {
  let carry = Buffer.alloc(0)
  for (let pos = end; pos > 0; ) {
    const len = Math.min(READ_CHUNK, pos)
    pos -= len
    const chunk = Buffer.allocUnsafe(len)
    const { bytesRead } = await handle.read(chunk, 0, len, pos)
    let buf = Buffer.concat([chunk.subarray(0, bytesRead), carry])
    let lineEnd = buf.length
    const lines: string[] = []
    for (let nl = lineEnd > 0 ? buf.lastIndexOf(10, lineEnd - 1) : -1; nl !== -1; nl = lineEnd > 0 ? buf.lastIndexOf(10, lineEnd - 1) : -1) {
      lines.push(buf.toString('utf8', nl + 1, lineEnd))
      lineEnd = nl
    }
    buf = buf.subarray(0, lineEnd)
    // A runaway "line" (not a json-file log, or a corrupt one) is dropped rather than held in memory.
    carry = buf.length > MAX_LINE ? Buffer.alloc(0) : Buffer.from(buf)
    yield* lines
  }
  if (carry.length > 0) yield carry.toString('utf8')
}
