#!/usr/bin/env node
// @ts-check
/**
 * The FORMER json-file logging driver (Node), kept only as the reference `logger-rss.ts` measures beside the
 * perl one the SDK ships (bin/containerd-sdk-logger.pl), which replaced it: same records, ~8x less RSS.
 *
 * containerd-sdk's json-file logging driver: a program containerd's shim runs for a `binary://` log URI.
 *
 * The shim starts it as `<this file> [data-store] <data store>` (or `node <this file> <data store>`) with
 * CONTAINER_ID and CONTAINER_NAMESPACE in its environment, the container's stdout on fd 3, its stderr on
 * fd 4, and a readiness pipe on fd 5. It appends one Docker/nerdctl json-file record per line,
 * `{"log":"…\n","stream":"stdout","time":"<RFC3339Nano>"}`, to `<store>/containers/<ns>/<id>/<id>-json.log`,
 * rotating by the `max-size`/`max-file` options of `log-config.json` beside it (Docker's naming: `.1` is the
 * newest rotated file).
 *
 * Drain protocol (readers use it to know every byte the container wrote is in the file): while running,
 * the logger keeps `csdk-logger-<pid>.json` in the state dir. On SIGUSR2 it reads both pipes until they
 * are empty, writes out partial lines, and records in that file `drainedFrom`: the CLOCK_MONOTONIC time
 * (ns) at which that drain began. A reader that saw the task exit, noted the monotonic time, and then sees
 * a `drainedFrom` at or after it knows the file is complete. The file is removed when the logger exits
 * (both pipes at EOF, or SIGTERM from the shim).
 *
 * Plain JavaScript on purpose: the shim runs it with node, without TypeScript tooling.
 */
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { Socket } from 'node:net'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Docker cuts lines longer than this into records without a trailing newline. */
export const MAX_RECORD_BYTES = 16 * 1024

/** The state-dir file a running logger keeps (see the drain protocol above). */
export const MARKER_PATTERN = /^csdk-logger-(\d+)\.json$/

/**
 * nerdctl's `max-size` parser (go-units FromHumanSize): decimal multiples, `10m` = 10,000,000 bytes.
 * @param {string} value
 * @returns {number | undefined} bytes, or undefined when malformed
 */
export function parseHumanSize(value) {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(String(value).trim())
  if (m === null) return undefined
  /** @type {Record<string, number>} */
  const units = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 }
  const unit = units[(m[2] ?? '').toLowerCase()] ?? 1
  return Math.floor(Number(m[1]) * unit)
}

/**
 * Go's time.RFC3339Nano for a UTC time in nanoseconds since the epoch (trailing zeros trimmed).
 * @param {bigint} ns
 * @returns {string}
 */
export function formatRfc3339Nano(ns) {
  const seconds = ns / 1_000_000_000n
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '')
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19)
  return `${base}${frac === '' ? '' : `.${frac}`}Z`
}

/**
 * One json-file record, encoded like Go's encoding/json (which also escapes <, > and & for HTML).
 * @param {string} log
 * @param {'stdout' | 'stderr'} stream
 * @param {string} time
 * @returns {string}
 */
export function encodeRecord(log, stream, time) {
  const text = JSON.stringify(log).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return `{"log":${text},"stream":"${stream}","time":"${time}"}\n`
}

/**
 * Splits a byte stream into lines, holding back an unfinished one; lines over {@link MAX_RECORD_BYTES}
 * are cut at a UTF-8 character boundary.
 */
export class LineSplitter {
  constructor() {
    /** @type {Buffer} */
    this.pending = Buffer.alloc(0)
  }

  /**
   * @param {Buffer} chunk
   * @returns {string[]} complete lines (with their `\n`) and cut pieces (without)
   */
  push(chunk) {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    /** @type {string[]} */
    const out = []
    for (;;) {
      const nl = buf.indexOf(10)
      if (nl !== -1 && nl < MAX_RECORD_BYTES) {
        out.push(buf.toString('utf8', 0, nl + 1))
        buf = buf.subarray(nl + 1)
      } else if (buf.length >= MAX_RECORD_BYTES && (nl === -1 || nl >= MAX_RECORD_BYTES)) {
        let cut = MAX_RECORD_BYTES
        // Back off over continuation bytes (10xxxxxx) so a character is never split between records.
        while (cut > MAX_RECORD_BYTES - 4 && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--
        out.push(buf.toString('utf8', 0, cut))
        buf = buf.subarray(cut)
      } else {
        break
      }
    }
    this.pending = Buffer.from(buf)
    return out
  }

  /** @returns {string[]} the unfinished line, if any (written without a newline) */
  flush() {
    const rest = this.pending
    this.pending = Buffer.alloc(0)
    return rest.length === 0 ? [] : [rest.toString('utf8')]
  }
}

/** Appends records to the log, rotating it Docker's way. */
export class RotatingFile {
  /**
   * @param {string} path
   * @param {number} maxSize bytes; 0 or less: never rotate
   * @param {number} maxFiles files kept including the live one (1: truncate in place)
   */
  constructor(path, maxSize, maxFiles) {
    this.path = path
    this.maxSize = maxSize
    this.maxFiles = Math.max(1, maxFiles)
    this.fd = openSync(path, 'a', 0o600)
    this.size = fstatSync(this.fd).size
  }

  /** @param {string[]} records */
  write(records) {
    /** @type {string[]} */
    let batch = []
    let batchBytes = 0
    for (const record of records) {
      // Like Docker: rotate before a write once the file has reached the limit.
      if (this.maxSize > 0 && this.size + batchBytes >= this.maxSize) {
        this.append(batch)
        batch = []
        batchBytes = 0
        this.rotate()
      }
      batch.push(record)
      batchBytes += Buffer.byteLength(record)
    }
    this.append(batch)
  }

  /** @param {string[]} batch */
  append(batch) {
    if (batch.length === 0) return
    const data = Buffer.from(batch.join(''))
    let off = 0
    // Bounded: each round writes at least one byte or throws.
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off)
    this.size += data.length
  }

  rotate() {
    closeSync(this.fd)
    if (this.maxFiles < 2) {
      this.fd = openSync(this.path, 'w', 0o600)
    } else {
      for (let i = this.maxFiles - 1; i > 1; i--) renameQuiet(`${this.path}.${i - 1}`, `${this.path}.${i}`)
      renameQuiet(this.path, `${this.path}.1`)
      this.fd = openSync(this.path, 'a', 0o600)
    }
    this.size = 0
  }

  close() {
    closeSync(this.fd)
  }
}

/**
 * @param {string} from
 * @param {string} to
 */
function renameQuiet(from, to) {
  try {
    renameSync(from, to)
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ENOENT') throw err
  }
}

/**
 * Reads `log-config.json` (nerdctl's `{"driver":"json-file","opts":{"max-size":"10m","max-file":"3"}}`).
 * Bad values fall back to no rotation rather than losing the container's output.
 * @param {string} stateDir
 * @param {string} defaultPath
 * @returns {{ path: string, maxSize: number, maxFiles: number }}
 */
export function readLogConfig(stateDir, defaultPath) {
  /** @type {Record<string, unknown>} */
  let opts = {}
  try {
    const parsed = JSON.parse(readFileSync(join(stateDir, 'log-config.json'), 'utf8'))
    if (parsed !== null && typeof parsed === 'object' && typeof parsed.opts === 'object' && parsed.opts !== null) opts = parsed.opts
  } catch {
    // No config (or an unreadable one): defaults.
  }
  const size = typeof opts['max-size'] === 'string' ? parseHumanSize(opts['max-size']) : undefined
  const files = typeof opts['max-file'] === 'string' && /^\d+$/.test(opts['max-file']) ? Number(opts['max-file']) : 1
  const path = typeof opts['log-path'] === 'string' && opts['log-path'].startsWith('/') ? opts['log-path'] : defaultPath
  return { path, maxSize: size ?? -1, maxFiles: Math.max(1, files) }
}

/** Nanoseconds since the epoch, from the monotonic clock anchored to the wall clock (never decreasing). */
class Clock {
  constructor() {
    this.base = 0n
    this.last = 0n
    this.rebase()
  }

  rebase() {
    this.base = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint()
  }

  /** @returns {bigint} */
  now() {
    const wall = BigInt(Date.now()) * 1_000_000n
    let t = this.base + process.hrtime.bigint()
    // Follow wall-clock adjustments (NTP) beyond a few milliseconds.
    if (t < wall - 2_000_000n || t > wall + 3_000_000n) {
      this.rebase()
      t = this.base + process.hrtime.bigint()
    }
    if (t < this.last) t = this.last
    this.last = t
    return t
  }
}

/**
 * @param {string[]} args
 * @returns {string} the data store
 */
function dataStoreArg(args) {
  const value = args.length === 2 && args[0] === 'data-store' ? args[1] : args.length === 1 ? args[0] : undefined
  if (value === undefined || !value.startsWith('/')) {
    throw new Error(`usage: containerd-sdk-logger [data-store] <absolute data store path> (got ${JSON.stringify(args)})`)
  }
  return value
}

/**
 * @param {string} name
 * @returns {string}
 */
function envName(name) {
  const value = process.env[name] ?? ''
  if (value === '' || value === '.' || value === '..' || value.includes('/')) throw new Error(`${name} is missing or not a plain name`)
  return value
}

function main() {
  const dataStore = dataStoreArg(process.argv.slice(2))
  const namespace = envName('CONTAINER_NAMESPACE')
  const id = envName('CONTAINER_ID')
  const stateDir = join(dataStore, 'containers', namespace, id)
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  const config = readLogConfig(stateDir, join(stateDir, `${id}-json.log`))
  const file = new RotatingFile(config.path, config.maxSize, config.maxFiles)
  const clock = new Clock()
  const marker = join(stateDir, `csdk-logger-${process.pid}.json`)
  /** @param {bigint | null} drainedFrom */
  const writeMarker = (drainedFrom) => {
    const tmp = join(stateDir, `.${basename(marker)}.tmp`)
    const body = { pid: process.pid, log: config.path, drainedFrom: drainedFrom === null ? null : drainedFrom.toString() }
    writeFileSync(tmp, JSON.stringify(body), { mode: 0o600 })
    renameSync(tmp, marker)
  }

  /** @type {{ fd: number, stream: 'stdout' | 'stderr', lines: LineSplitter, socket: Socket | undefined, done: boolean }[]} */
  const sources = [
    { fd: 3, stream: 'stdout', lines: new LineSplitter(), socket: undefined, done: false },
    { fd: 4, stream: 'stderr', lines: new LineSplitter(), socket: undefined, done: false },
  ]
  /**
   * @param {'stdout' | 'stderr'} stream
   * @param {string[]} lines
   */
  const record = (stream, lines) => {
    if (lines.length === 0) return
    const time = formatRfc3339Nano(clock.now())
    try {
      file.write(lines.map((line) => encodeRecord(line, stream, time)))
    } catch (err) {
      // Keep reading whatever happens to the file (disk full…): a logger that stops reading blocks the container.
      process.stderr.write(`containerd-sdk-logger: ${String(err)}\n`)
    }
  }
  let finished = false
  const finish = () => {
    if (finished) return
    finished = true
    for (const s of sources) {
      record(s.stream, s.lines.flush())
      s.socket?.destroy()
    }
    try {
      file.close()
    } finally {
      rmSync(marker, { force: true })
      process.exit(0)
    }
  }
  /** Reads what the pipes hold right now, without waiting; @param {boolean} flushPartial */
  const drain = (flushPartial) => {
    const buf = Buffer.allocUnsafe(64 * 1024)
    for (const s of sources) {
      // Bounded: a writer faster than this loop still cannot keep it going past 16 MiB.
      for (let i = 0; i < 256 && !s.done; i++) {
        let n = 0
        try {
          n = readSync(s.fd, buf)
        } catch (err) {
          if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EAGAIN') s.done = true
          break
        }
        if (n === 0) s.done = true
        else record(s.stream, s.lines.push(buf.subarray(0, n)))
      }
      if (flushPartial) record(s.stream, s.lines.flush())
    }
  }
  const onSourceEnd = () => {
    if (sources.every((s) => s.done)) finish()
  }

  process.on('SIGTERM', () => {
    drain(true)
    finish()
  })
  process.on('SIGUSR2', () => {
    const from = process.hrtime.bigint()
    drain(true)
    try {
      writeMarker(from)
    } catch (err) {
      process.stderr.write(`containerd-sdk-logger: ${String(err)}\n`)
    }
    if (sources.every((s) => s.done)) finish()
  })
  writeMarker(null)

  // Ready only now that the file is open: the shim starts the container once it reads this byte.
  try {
    writeSync(5, Buffer.from([1]))
    closeSync(5)
  } catch {
    // Run by hand, without a readiness pipe.
  }

  for (const s of sources) {
    try {
      const socket = new Socket({ fd: s.fd, readable: true, writable: false })
      s.socket = socket
      socket.on('data', (chunk) => record(s.stream, s.lines.push(/** @type {Buffer} */ (chunk))))
      socket.on('error', () => socket.destroy())
      socket.on('close', () => {
        s.done = true
        onSourceEnd()
      })
    } catch {
      // No such fd (or not a pipe): nothing to read on this stream.
      s.done = true
    }
  }
  onSourceEnd()
}

/** True when this file is the program being run (not imported, e.g. by tests). */
function isMain() {
  const entry = process.argv[1]
  if (entry === undefined) return false
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isMain()) {
  try {
    main()
  } catch (err) {
    process.stderr.write(`containerd-sdk-logger: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  }
}
