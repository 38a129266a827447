import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JSON_FILE_LOGGER_PATH } from '../../../src/logs/logger-uri.js'
import { waitForLoggerDrain } from '../../../src/logs/logger-drain.js'

// The logger is plain JS (the shim runs it with node): its pure parts are imported as a module, and the
// program itself runs here as a child with pipes on fds 3, 4 and 5, the way the shim starts it.
interface LoggerModule {
  formatRfc3339Nano(ns: bigint): string
  encodeRecord(log: string, stream: 'stdout' | 'stderr', time: string): string
  parseHumanSize(value: string): number | undefined
  LineSplitter: new () => { push(chunk: Buffer): string[]; flush(): string[] }
  readLogConfig(stateDir: string, defaultPath: string): { path: string; maxSize: number; maxFiles: number }
  MAX_RECORD_BYTES: number
}
const loggerModulePath: string = JSON_FILE_LOGGER_PATH
const logger = (await import(loggerModulePath)) as LoggerModule

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-logger-unit-'))
})
afterAll(async () => rm(root, { recursive: true, force: true }))

describe('logger pieces', () => {
  it('formats times like Go RFC3339Nano (UTC, trailing zeros trimmed)', () => {
    expect(logger.formatRfc3339Nano(1_700_000_000_123_456_789n)).toBe('2023-11-14T22:13:20.123456789Z')
    expect(logger.formatRfc3339Nano(1_700_000_000_120_000_000n)).toBe('2023-11-14T22:13:20.12Z')
    expect(logger.formatRfc3339Nano(1_700_000_000_000_000_000n)).toBe('2023-11-14T22:13:20Z')
    expect(logger.formatRfc3339Nano(1_700_000_000_000_000_001n)).toBe('2023-11-14T22:13:20.000000001Z')
  })

  it('encodes records like Go encoding/json, field order log, stream, time', () => {
    expect(logger.encodeRecord('a <b> & "c"\t\n', 'stderr', 'T')).toBe('{"log":"a \\u003cb\\u003e \\u0026 \\"c\\"\\t\\n","stream":"stderr","time":"T"}\n')
    expect(JSON.parse(logger.encodeRecord('x\u2028y\n', 'stdout', 'T'))).toEqual({ log: 'x\u2028y\n', stream: 'stdout', time: 'T' })
  })

  it("parses max-size with nerdctl's decimal units", () => {
    expect(logger.parseHumanSize('10m')).toBe(10_000_000)
    expect(logger.parseHumanSize('512k')).toBe(512_000)
    expect(logger.parseHumanSize('1.5KB')).toBe(1500)
    expect(logger.parseHumanSize('100')).toBe(100)
    expect(logger.parseHumanSize('ten')).toBeUndefined()
  })

  it('splits lines, keeps unfinished ones, cuts long ones at 16 KiB on a character boundary', () => {
    const s = new logger.LineSplitter()
    expect(s.push(Buffer.from('one\ntw'))).toEqual(['one\n'])
    expect(s.push(Buffer.from('o\n\nthree'))).toEqual(['two\n', '\n'])
    expect(s.flush()).toEqual(['three'])
    expect(s.flush()).toEqual([])
    const long = Buffer.from('a'.repeat(logger.MAX_RECORD_BYTES - 1) + 'é' + 'b\n')
    const pieces = s.push(long)
    expect(pieces).toHaveLength(2)
    expect(pieces[0]).toBe('a'.repeat(logger.MAX_RECORD_BYTES - 1))
    expect(pieces[1]).toBe('éb\n')
  })

  it('reads rotation options from log-config.json and falls back on bad ones', async () => {
    const dir = join(root, 'cfg')
    await mkdir(dir)
    expect(logger.readLogConfig(dir, '/x.log')).toEqual({ path: '/x.log', maxSize: -1, maxFiles: 1 })
    await writeFile(join(dir, 'log-config.json'), JSON.stringify({ driver: 'json-file', opts: { 'max-size': '2k', 'max-file': '3' } }))
    expect(logger.readLogConfig(dir, '/x.log')).toEqual({ path: '/x.log', maxSize: 2000, maxFiles: 3 })
    await writeFile(join(dir, 'log-config.json'), JSON.stringify({ driver: 'json-file', opts: { 'max-size': 'huge', 'log-path': '/y.log' } }))
    expect(logger.readLogConfig(dir, '/x.log')).toEqual({ path: '/y.log', maxSize: -1, maxFiles: 1 })
  })
})

interface Running {
  child: ChildProcess
  stdout: Writable
  stderr: Writable
  ready: Promise<number>
  exited: Promise<number | null>
  stateDir: string
  logPath: string
}

function startLogger(dataStore: string, id: string): Running {
  const child = spawn(process.execPath, [JSON_FILE_LOGGER_PATH, dataStore], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: { CONTAINER_ID: id, CONTAINER_NAMESPACE: 'ns1' },
  })
  const readyPipe = (child.stdio as unknown as Readable[])[5] as Readable
  const ready = new Promise<number>((resolve) => {
    let bytes = 0
    readyPipe.on('data', (c: Buffer) => (bytes += c.length))
    readyPipe.on('close', () => resolve(bytes))
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const stateDir = join(dataStore, 'containers', 'ns1', id)
  return { child, stdout: child.stdio[3] as Writable, stderr: child.stdio[4] as Writable, ready, exited, stateDir, logPath: join(stateDir, `${id}-json.log`) }
}

async function records(path: string): Promise<{ log: string; stream: string; time: string }[]> {
  const text = await readFile(path, 'utf8')
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { log: string; stream: string; time: string })
}

describe('logger program', () => {
  it('writes json-file records, signals ready, drains on SIGUSR2 and exits at EOF', async () => {
    const store = join(root, 'store1')
    const l = startLogger(store, 'c1')
    expect(await l.ready).toBe(1)
    expect((await stat(l.logPath)).mode & 0o777).toBe(0o600)
    expect((await stat(l.stateDir)).mode & 0o777).toBe(0o700)
    expect((await readdir(l.stateDir)).filter((n) => n.startsWith('csdk-logger-'))).toEqual([`csdk-logger-${l.child.pid}.json`])

    l.stdout.write('hello\nwor')
    l.stderr.write('oops\n')
    l.stdout.write('ld\nno newline')
    // The writer is done (as after a task exit), but the pipes stay open: the drain makes the file complete.
    expect(await waitForLoggerDrain(l.stateDir, { timeoutMs: 5000 })).toBe(true)
    const got = await records(l.logPath)
    expect(got.filter((r) => r.stream === 'stdout').map((r) => r.log)).toEqual(['hello\n', 'world\n', 'no newline'])
    expect(got.filter((r) => r.stream === 'stderr').map((r) => r.log)).toEqual(['oops\n'])
    for (const r of got) expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/)

    l.stdout.end('after\n')
    l.stderr.end()
    expect(await l.exited).toBe(0)
    expect((await records(l.logPath)).at(-1)?.log).toBe('after\n')
    expect((await readdir(l.stateDir)).filter((n) => n.startsWith('csdk-logger-'))).toEqual([])
  })

  it('rotates by max-size and max-file with Docker names', async () => {
    const store = join(root, 'store2')
    const stateDir = join(store, 'containers', 'ns1', 'c2')
    await mkdir(stateDir, { recursive: true })
    await writeFile(join(stateDir, 'log-config.json'), JSON.stringify({ driver: 'json-file', opts: { 'max-size': '1k', 'max-file': '3' } }))
    const l = startLogger(store, 'c2')
    await l.ready
    for (let i = 0; i < 100; i++) l.stdout.write(`line ${String(i).padStart(3, '0')}\n`)
    l.stdout.end()
    l.stderr.end()
    expect(await l.exited).toBe(0)
    const names = (await readdir(stateDir)).filter((n) => n.startsWith('c2-json.log')).sort()
    expect(names).toEqual(['c2-json.log', 'c2-json.log.1', 'c2-json.log.2'])
    const all = [...(await records(`${l.logPath}.2`)), ...(await records(`${l.logPath}.1`)), ...(await records(l.logPath))]
    const numbers = all.map((r) => Number(r.log.slice(5, 8)))
    // The oldest files were dropped; what is kept is contiguous and ends with the last line.
    expect(numbers.at(-1)).toBe(99)
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i))
    for (const name of ['c2-json.log.1', 'c2-json.log.2']) expect((await stat(join(stateDir, name))).size).toBeLessThan(1100)
  })

  it('exits on SIGTERM after writing out what it holds', async () => {
    const store = join(root, 'store3')
    const l = startLogger(store, 'c3')
    await l.ready
    l.stdout.write('last words')
    await sleep(50)
    l.child.kill('SIGTERM')
    expect(await l.exited).toBe(0)
    expect((await records(l.logPath)).map((r) => r.log)).toEqual(['last words'])
  })

  it('refuses to start without a container id, and never signals ready', async () => {
    const child = spawn(process.execPath, [JSON_FILE_LOGGER_PATH, join(root, 'store4')], { stdio: ['ignore', 'ignore', 'pipe'], env: { CONTAINER_NAMESPACE: 'ns1' } })
    let err = ''
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()))
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect(code).toBe(1)
    expect(err).toContain('CONTAINER_ID')
  })
})
