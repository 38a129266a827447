import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CanceledError, InvalidArgumentError, NotFoundError } from '../../../src/grpc/errors.js'
import { parseJsonLogLine, parseRfc3339 } from '../../../src/logs/log-entry.js'
import { rotationOrder } from '../../../src/logs/log-files.js'
import { readLogs, type ReadLogsOptions } from '../../../src/logs/log-reader.js'
import { parseLogTime } from '../../../src/logs/log-time.js'
import { JSON_FILE_LOGGER_PATH, PERL_PATH } from '../../../src/logs/logger-uri.js'
import type { LogEntry } from '../../../src/logs/log-entry.js'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-logs-reader-'))
})
afterAll(async () => rm(root, { recursive: true, force: true }))

const T0 = Date.parse('2024-05-01T10:00:00Z')
function rec(i: number, stream: 'stdout' | 'stderr' = 'stdout', log = `line ${i}\n`): string {
  const time = new Date(T0 + i * 1000).toISOString().replace('.000Z', `.${String(i).padStart(9, '0')}Z`)
  return `${JSON.stringify({ log, stream, time })}\n`
}
async function collect(source: string, options?: ReadLogsOptions): Promise<LogEntry[]> {
  const out: LogEntry[] = []
  for await (const e of readLogs(source, options)) out.push(e)
  return out
}

describe('records and times', () => {
  it('parses json-file records with nanosecond times, and skips anything else', () => {
    const r = parseJsonLogLine('{"log":"hi\\n","stream":"stderr","time":"2024-05-01T10:00:00.123456789Z"}')
    expect(r).toEqual({ log: 'hi\n', stream: 'stderr', timestamp: '2024-05-01T10:00:00.123456789Z', time: new Date('2024-05-01T10:00:00.123Z') })
    expect(parseJsonLogLine('{"log":"x","stream":"other","time":"2024-05-01T10:00:00Z"}')).toBeUndefined()
    expect(parseJsonLogLine('{"log":"x","stream":"stdout"')).toBeUndefined()
    expect(parseJsonLogLine('')).toBeUndefined()
    expect(parseRfc3339('2024-05-01T12:00:00.5+02:00')).toEqual(new Date('2024-05-01T10:00:00.500Z'))
  })

  it("reads since/until the way docker logs does", () => {
    const now = new Date('2024-05-01T10:00:00Z')
    expect(parseLogTime('10m', 'since', now)).toEqual(new Date('2024-05-01T09:50:00Z'))
    expect(parseLogTime('1h30m', 'since', now)).toEqual(new Date('2024-05-01T08:30:00Z'))
    expect(parseLogTime('1.5s', 'since', now)).toEqual(new Date('2024-05-01T09:59:58.500Z'))
    expect(parseLogTime('1714557600', 'since', now)).toEqual(new Date('2024-05-01T10:00:00Z'))
    expect(parseLogTime('1714557600.25', 'since', now)).toEqual(new Date('2024-05-01T10:00:00.250Z'))
    expect(parseLogTime(1714557600, 'since', now)).toEqual(new Date('2024-05-01T10:00:00Z'))
    expect(parseLogTime('2024-05-01T10:00:00.123456789Z', 'since')).toEqual(new Date('2024-05-01T10:00:00.123Z'))
    expect(parseLogTime('2024-05-01T12:00:00+02:00', 'since')).toEqual(new Date('2024-05-01T10:00:00Z'))
    expect(parseLogTime('2024-05-01T10:00', 'since')).toEqual(new Date(2024, 4, 1, 10, 0))
    expect(parseLogTime('2024-05-01', 'since')).toEqual(new Date(2024, 4, 1))
    const d = new Date()
    expect(parseLogTime(d, 'since')).toBe(d)
    for (const bad of ['yesterday', '10 minutes', '2024-13-01', '', '-']) expect(() => parseLogTime(bad, 'since')).toThrow(InvalidArgumentError)
    expect(() => parseLogTime(new Date(NaN), 'until')).toThrow(/until/)
  })

  it('orders rotated files oldest first, ignoring compressed and foreign files', () => {
    expect(rotationOrder('c-json.log', ['c-json.log.1', 'c-json.log', 'c-json.log.10', 'c-json.log.2', 'c-json.log.1.gz', 'log-config.json', 'c-json.logx'])).toEqual([
      'c-json.log.10',
      'c-json.log.2',
      'c-json.log.1',
      'c-json.log',
    ])
    expect(rotationOrder('c-json.log', ['c-json.log.1'])).toEqual(['c-json.log.1'])
  })
})

describe('readLogs', () => {
  let log: string
  beforeAll(async () => {
    const dir = join(root, 'rotated')
    await mkdir(dir)
    log = join(dir, 'c-json.log')
    // Records 0-9 in .2, 10-19 in .1, 20-29 live; every third on stderr; a torn line and a foreign one.
    const body = (from: number): string => Array.from({ length: 10 }, (_, k) => rec(from + k, (from + k) % 3 === 0 ? 'stderr' : 'stdout')).join('')
    await writeFile(`${log}.2`, body(0))
    await writeFile(`${log}.1`, body(10) + 'not json\n')
    await writeFile(log, body(20) + rec(30, 'stdout', 'no newline') + '{"log":"torn')
  })

  it('reads the rotated files in order, then the live one', async () => {
    const all = await collect(log)
    expect(all.map((e) => e.line)).toEqual([...Array.from({ length: 30 }, (_, i) => `line ${i}`), 'no newline'])
    expect(all[3]).toMatchObject({ stream: 'stderr', partial: false })
    expect(all.at(-1)).toMatchObject({ stream: 'stdout', partial: true })
    expect(all[5]?.time).toEqual(new Date(T0 + 5000))
  })

  it('tails the last N lines across files, after stream and time filters', async () => {
    expect((await collect(log, { tail: 3 })).map((e) => e.line)).toEqual(['line 28', 'line 29', 'no newline'])
    expect((await collect(log, { tail: 4, stdout: false })).map((e) => e.line)).toEqual(['line 18', 'line 21', 'line 24', 'line 27'])
    expect((await collect(log, { tail: 15, stderr: false })).map((e) => e.line)).toHaveLength(15)
    expect((await collect(log, { tail: 0 })).length).toBe(0)
    expect((await collect(log, { tail: 'all' })).length).toBe(31)
    expect((await collect(log, { tail: 1000 })).length).toBe(31)
    expect((await collect(log, { tail: 2, until: new Date(T0 + 12_500) })).map((e) => e.line)).toEqual(['line 11', 'line 12'])
  })

  it('filters by since/until and stream, and prefixes timestamps', async () => {
    const lines = await collect(log, { since: new Date(T0 + 8000), until: (T0 + 12_000) / 1000 })
    expect(lines.map((e) => e.line)).toEqual(['line 8', 'line 9', 'line 10', 'line 11', 'line 12'])
    const err = await collect(log, { stdout: false, since: '2024-05-01T10:00:20Z' })
    expect(err.map((e) => e.line)).toEqual(['line 21', 'line 24', 'line 27'])
    const stamped = await collect(log, { tail: 1, timestamps: true, stdout: false })
    expect(stamped[0]?.line).toBe('2024-05-01T10:00:27.000000027Z line 27')
  })

  it('rejects bad options and a missing log', async () => {
    await expect(collect(log, { stdout: false, stderr: false })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(collect(log, { tail: -1 })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(collect(log, { since: 'soon' })).rejects.toThrow(/since/)
    await expect(collect(join(root, 'nope-json.log'))).rejects.toBeInstanceOf(NotFoundError)
    const ac = new AbortController()
    ac.abort(new Error('stop'))
    await expect(collect(log, { signal: ac.signal })).rejects.toBeInstanceOf(CanceledError)
  })

  it('stops a follow on abort', async () => {
    const ac = new AbortController()
    const seen: string[] = []
    const done = (async () => {
      for await (const e of readLogs(log, { follow: true, tail: 1, signal: ac.signal, pollIntervalMs: 50 })) {
        seen.push(e.line)
        setTimeout(() => ac.abort(), 100)
      }
    })()
    await expect(done).rejects.toBeInstanceOf(CanceledError)
    expect(seen).toEqual(['no newline'])
  })
})

describe('follow through the real logger', () => {
  it('follows a rotating log from start to the logger exit, every line once and in order', { timeout: 30_000 }, async () => {
    const store = join(root, 'follow-store')
    const stateDir = join(store, 'containers', 'ns', 'f1')
    await mkdir(stateDir, { recursive: true })
    await writeFile(join(stateDir, 'log-config.json'), JSON.stringify({ driver: 'json-file', opts: { 'max-size': '4k', 'max-file': '50' } }))
    const child = spawn(PERL_PATH, [JSON_FILE_LOGGER_PATH, store], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { CONTAINER_ID: 'f1', CONTAINER_NAMESPACE: 'ns' },
    })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const readyPipe = (child.stdio as unknown as Readable[])[5] as Readable
    await new Promise<void>((resolve) => readyPipe.once('close', () => resolve()).resume())
    const out = child.stdio[3] as Writable
    const err = child.stdio[4] as Writable

    const lines: string[] = []
    const reading = (async () => {
      for await (const e of readLogs(join(stateDir, 'f1-json.log'), { follow: true, followUntil: exited, pollIntervalMs: 50 })) lines.push(`${e.stream}:${e.line}`)
    })()
    const N = 2000
    for (let i = 0; i < N; i++) {
      const ok = (i % 10 === 0 ? err : out).write(`message ${i}\n`)
      if (!ok) await new Promise((r) => (i % 10 === 0 ? err : out).once('drain', r))
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    out.end()
    err.end()
    await reading
    expect(lines).toHaveLength(N)
    const outLines = lines.filter((l) => l.startsWith('stdout:'))
    expect(outLines).toEqual(Array.from({ length: N }, (_, i) => i).filter((i) => i % 10 !== 0).map((i) => `stdout:message ${i}`))
  })
})
