import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JSON_FILE_LOGGER_PATH, PERL_PATH } from '../../../src/logs/logger-uri.js'
import { waitForLoggerDrain } from '../../../src/logs/logger-drain.js'

// The logger is a perl program the shim runs: it runs here as a child with pipes on fds 3, 4 and 5, the way
// the shim starts it, and its record encoder through its `--selftest-encode` mode.
const MAX_RECORD_BYTES = 16 * 1024

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-logger-unit-'))
})
afterAll(async () => rm(root, { recursive: true, force: true }))

/** One record as the logger encodes it: the bytes on stdin, the stream and time as given. */
function encode(bytes: Buffer | string, stream = 'stdout', time = 'T'): string {
  const r = spawnSync(PERL_PATH, [JSON_FILE_LOGGER_PATH, '--selftest-encode', stream, time], { input: bytes })
  expect(r.status).toBe(0)
  return r.stdout.toString('utf8')
}

describe('record encoding (Go encoding/json, as nerdctl writes it)', () => {
  it('escapes like Go: field order log, stream, time; HTML characters; control characters; U+2028/9', () => {
    expect(encode('a <b> & "c"\t\n', 'stderr')).toBe('{"log":"a \\u003cb\\u003e \\u0026 \\"c\\"\\t\\n","stream":"stderr","time":"T"}\n')
    expect(encode('\\ \b\f\r\x00\x01\x1f\x7f')).toBe('{"log":"\\\\ \\b\\f\\r\\u0000\\u0001\\u001f\x7f","stream":"stdout","time":"T"}\n')
    expect(encode('x\u2028y\u2029z\n')).toBe('{"log":"x\\u2028y\\u2029z\\n","stream":"stdout","time":"T"}\n')
  })

  it('keeps valid UTF-8 and writes each invalid byte as \\ufffd (Go does, per byte)', () => {
    expect(encode('é€😀\n')).toBe('{"log":"é€😀\\n","stream":"stdout","time":"T"}\n')
    // A lone continuation byte, a truncated 3-byte sequence, a surrogate, an overlong NUL, a byte never valid.
    const bad = Buffer.from([0x80, 0x41, 0xe2, 0x82, 0x41, 0xed, 0xa0, 0x80, 0xc0, 0x80, 0xff, 0x0a])
    expect(encode(bad)).toBe('{"log":"\\ufffdA\\ufffd\\ufffdA\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\n","stream":"stdout","time":"T"}\n')
    expect((JSON.parse(encode(bad)) as { log: string }).log).toBe('\ufffdA\ufffd\ufffdA\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\n')
  })

  it('round-trips every byte value through JSON.parse', () => {
    const all = Buffer.from(Array.from({ length: 128 }, (_, i) => i))
    expect((JSON.parse(encode(all)) as { log: string }).log).toBe(all.toString('latin1'))
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
  const child = spawn(PERL_PATH, [JSON_FILE_LOGGER_PATH, dataStore], {
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

  it('cuts lines over 16 KiB on a character boundary, keeps CR, and writes a partial line at EOF', async () => {
    const store = join(root, 'store5')
    const l = startLogger(store, 'c5')
    await l.ready
    const long = 'a'.repeat(MAX_RECORD_BYTES - 1) + 'é' + 'b\n'
    // Byte by byte in places, so the splitter sees lines and characters across reads.
    l.stdout.write(long.slice(0, 100))
    await sleep(20)
    l.stdout.write(long.slice(100))
    l.stdout.write('cr\r\nx'.repeat(2))
    l.stdout.write(Buffer.from([0xc3]))
    await sleep(20)
    l.stdout.write(Buffer.from([0xa9, 0x0a]))
    l.stdout.write('exact'.padEnd(MAX_RECORD_BYTES - 1, '.') + '\n')
    l.stdout.end('tail')
    l.stderr.end()
    expect(await l.exited).toBe(0)
    const logs = (await records(l.logPath)).map((r) => r.log)
    expect(logs).toEqual(['a'.repeat(MAX_RECORD_BYTES - 1), 'éb\n', 'cr\r\n', 'xcr\r\n', 'xé\n', 'exact'.padEnd(MAX_RECORD_BYTES - 1, '.') + '\n', 'tail'])
  })

  it('stamps records with RFC3339Nano UTC times that never go back', async () => {
    const store = join(root, 'store6')
    const l = startLogger(store, 'c6')
    await l.ready
    const before = Date.now()
    for (let i = 0; i < 20; i++) {
      l.stdout.write(`${i}\n`)
      await sleep(2)
    }
    l.stdout.end()
    l.stderr.end()
    expect(await l.exited).toBe(0)
    const times = (await records(l.logPath)).map((r) => r.time)
    expect(times).toHaveLength(20)
    for (const t of times) expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/)
    const ms = times.map((t) => Date.parse(t))
    expect(ms[0]).toBeGreaterThanOrEqual(before - 5)
    expect(ms.at(-1)).toBeLessThanOrEqual(Date.now() + 5)
    // Lexical order of the nanosecond strings, padded: never decreasing.
    const ns = times.map((t) => t.replace(/Z$/, '').replace(/(\.\d+)?$/, (f) => (f === '' ? '.' : f).padEnd(10, '0')))
    expect([...ns].sort()).toEqual(ns)
  })

  it('truncates in place with max-file 1, honours log-path, and ignores a bad config', async () => {
    const store = join(root, 'store7')
    const stateDir = join(store, 'containers', 'ns1', 'c7')
    await mkdir(stateDir, { recursive: true })
    const elsewhere = join(root, 'elsewhere.log')
    await writeFile(join(stateDir, 'log-config.json'), JSON.stringify({ driver: 'json-file', opts: { 'max-size': '0.5k', 'max-file': '1', 'log-path': elsewhere } }))
    const l = startLogger(store, 'c7')
    await l.ready
    for (let i = 0; i < 40; i++) l.stdout.write(`line ${String(i).padStart(3, '0')}\n`)
    l.stdout.end()
    l.stderr.end()
    expect(await l.exited).toBe(0)
    const kept = (await records(elsewhere)).map((r) => r.log)
    expect(kept.at(-1)).toBe('line 039\n')
    expect(kept.length).toBeLessThan(40)
    expect((await readdir(root)).filter((n) => n.startsWith('elsewhere.log'))).toEqual(['elsewhere.log'])

    // Not JSON: no rotation, the default path, and the output still logged.
    await writeFile(join(stateDir, 'log-config.json'), '{"opts": {"max-size": "1k"')
    const again = startLogger(store, 'c7')
    await again.ready
    for (let i = 0; i < 40; i++) again.stdout.write(`line ${String(i).padStart(3, '0')}\n`)
    again.stdout.end()
    again.stderr.end()
    expect(await again.exited).toBe(0)
    expect(await records(again.logPath)).toHaveLength(40)
    expect((await readdir(stateDir)).filter((n) => n.startsWith('c7-json.log'))).toEqual(['c7-json.log'])
  })

  it('parses max-size with nerdctl decimal units (1.5KB = 1500 bytes)', async () => {
    const store = join(root, 'store8')
    const stateDir = join(store, 'containers', 'ns1', 'c8')
    await mkdir(stateDir, { recursive: true })
    await writeFile(join(stateDir, 'log-config.json'), JSON.stringify({ driver: 'json-file', opts: { 'max-size': ' 1.5KB ', 'max-file': '2' } }))
    const l = startLogger(store, 'c8')
    await l.ready
    // Each record is 62 bytes; the file rotates before the write that finds it at ≥ 1500 bytes: after 25 records.
    for (let i = 0; i < 30; i++) l.stdout.write(`${String(i).padStart(2, '0')}\n`)
    l.stdout.end()
    l.stderr.end()
    expect(await l.exited).toBe(0)
    const first = await records(`${l.logPath}.1`)
    const sizes = first.map((r) => JSON.stringify(r).length + 1)
    expect(sizes.slice(0, -1).reduce((a, b) => a + b, 0)).toBeLessThan(1500)
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1500)
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
    const child = spawn(PERL_PATH, [JSON_FILE_LOGGER_PATH, join(root, 'store4')], { stdio: ['ignore', 'ignore', 'pipe'], env: { CONTAINER_NAMESPACE: 'ns1' } })
    let err = ''
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()))
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect(code).toBe(1)
    expect(err).toContain('CONTAINER_ID')
  })
})
