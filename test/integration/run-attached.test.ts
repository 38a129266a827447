// client.run() attached and on terminals: the output goes to the caller and to the json-file log (as in
// nerdctl), terminals with -t / -it / -dt, resize, and nothing left behind by a bad or failing run.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable, Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Client, InvalidArgumentError, NotImplementedError, type LogEntry, type RunOptions } from '../../src/index.js'
import { FIFO_ROOT } from '../../src/tasks/fifo-set.js'
import { runnableBusybox } from '../env/runnable-image.js'
import { StreamText } from '../env/stream-text.js'
import { connectTestClient, daemonAddress, daemonLine } from '../env/test-client.js'
import { runFootprint, type RunFootprint } from '../env/run-footprint.js'

// The logger's URI, replaced by one test with a program that cannot start (nothing else can make the
// shipped logger fail before its readiness byte).
const loggerUri = vi.hoisted(() => ({ override: undefined as string | undefined }))
vi.mock('../../src/logs/logger-uri.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/logs/logger-uri.js')>()
  return { ...actual, jsonFileLogUri: (options: Parameters<typeof actual.jsonFileLogUri>[0]) => loggerUri.override ?? actual.jsonFileLogUri(options) }
})

const base = await connectTestClient('run-attached')
const IMAGE = 'docker.io/library/busybox:run-attached'
let client: Client
let dataRoot: string

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'csdk-run-attached-'))
  client = await Client.connect({ address: daemonAddress(), namespace: base.namespace, dataRoot })
  await runnableBusybox(client, IMAGE)
})
afterAll(async () => {
  client?.close()
  await rm(dataRoot, { recursive: true, force: true })
})

async function collect(entries: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = []
  for await (const entry of entries) out.push(entry)
  return out
}

/** What a run could leave behind, logger processes included, to compare before and after a failure. */
async function footprint(): Promise<RunFootprint & { loggers: number[] }> {
  return { ...(await runFootprint(client)), loggers: loggerPids() }
}

/** Logger processes writing under this file's data root (their command line names the data store). */
function loggerPids(): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      return cmdline.includes('containerd-sdk-logger') && cmdline.includes(dataRoot)
    } catch {
      return false
    }
  }).map(Number)
}

/** FIFO files left for a container (they are named after it), across every FIFO directory. */
function fifosOf(id: string): string[] {
  return readdirSync(FIFO_ROOT).flatMap((dir) => {
    try {
      return readdirSync(join(FIFO_ROOT, dir)).filter((f) => f.startsWith(id))
    } catch {
      return []
    }
  })
}

/** A Writable that keeps what it gets, shaped like a terminal when given a size. */
function sink(size?: { columns: number; rows: number }): Writable & { text: () => string; columns?: number; rows?: number } {
  const chunks: Buffer[] = []
  const w = new Writable({ write(chunk: Buffer, _enc, cb) { chunks.push(chunk); cb() } }) as Writable & { text: () => string; columns?: number; rows?: number }
  w.text = () => Buffer.concat(chunks).toString('utf8')
  if (size !== undefined) Object.assign(w, size)
  return w
}

describe('attached run: the json-file log too', () => {
  it('gives the caller the output and the log the same lines, with their streams', async () => {
    const result = await client.run(IMAGE, { args: ['sh', '-c', 'echo one; echo err >&2; i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; printf tail'], stdio: 'pipe', name: 'logged' })
    expect(result.exitCode).toBe(0)
    const entries = await collect(client.logs('logged'))
    const logged = (stream: string): string => entries.filter((e) => e.stream === stream).map((e) => `${e.line}${e.partial ? '' : '\n'}`).join('')
    expect(logged('stdout')).toBe(result.stdout)
    expect(logged('stderr')).toBe(result.stderr)
    expect(result.stderr).toBe('err\n')
    expect(entries.at(-1)).toMatchObject({ line: 'tail', partial: true })
    const labels = (await (await client.containers.get('logged')).info()).labels
    expect(labels['nerdctl/log-uri']).toMatch(/^binary:\/\//)
    // The logger is gone once run() resolved, and the file is nerdctl's.
    expect(loggerPids()).toEqual([])
    const file = join(client.dataStore, 'containers', client.namespace, result.id, `${result.id}-json.log`)
    expect(readFileSync(file, 'utf8').split('\n').find((l) => l.includes('"one'))).toMatch(/^\{"log":"one\\n","stream":"stdout","time":"\d{4}-\d\d-\d\dT[\d:.]+Z"\}$/)
    await (await client.containers.get('logged')).remove()
  })

  it('feeds a stdin stream, copies to your streams, and logs with rotation', async () => {
    const stdout = sink()
    const stderr = sink()
    const result = await client.run(IMAGE, {
      args: ['sh', '-c', 'cat; echo done >&2'],
      stdio: { stdin: Readable.from(['hello\n', 'world\n']), stdout, stderr },
      logOptions: { maxSize: '1m', maxFile: 2 },
    })
    expect(result.exitCode).toBe(0)
    expect(stdout.text()).toBe('hello\nworld\n')
    expect(stderr.text()).toBe('done\n')
    expect((await collect(client.logs(result.id))).map((e) => `${e.stream}:${e.line}`).sort()).toEqual(['stderr:done', 'stdout:hello', 'stdout:world'])
    await (await client.containers.get(result.id)).remove()
  })

  it('logs with stdio null, and rm removes the log with the container', async () => {
    // Silent for longer than the copy's idle bound, then a last line right before the exit.
    const kept = await client.run(IMAGE, { args: ['sh', '-c', 'sleep 2.2; echo quiet'], stdio: 'null' })
    expect((await collect(client.logs(kept.id))).map((e) => e.line)).toEqual(['quiet'])
    await (await client.containers.get(kept.id)).remove()
    const logFile = join(dataRoot, 'attached.log')
    const filed = await client.run(IMAGE, { args: ['sh', '-c', 'echo to-file; echo err >&2'], stdio: { logFile } })
    expect(readFileSync(logFile, 'utf8').split('\n').sort()).toEqual(['', 'err', 'to-file'])
    expect((await collect(client.logs(filed.id))).map((e) => e.line).sort()).toEqual(['err', 'to-file'])
    await (await client.containers.get(filed.id)).remove()
    const before = await footprint()
    const removed = await client.run(IMAGE, { args: ['echo', 'gone'], stdio: 'pipe', rm: true })
    expect(removed.stdout).toBe('gone\n')
    expect(await footprint()).toEqual(before)
    expect(fifosOf(removed.id)).toEqual([])
  })

  it('waits for a stdout stream that stalls after the exit: it and the log get every byte', async () => {
    const total = 3 * 1024 * 1024
    let got = 0
    let stalled = false
    // Stalls 3 s once, a third of the way in: by then the rest fits in the pipe, so the process exits
    // during the stall, and nothing is written for longer than the 2 s the copy waits on silence.
    const stdout = new Writable({
      write(chunk: Buffer, _enc, cb) {
        got += chunk.length
        if (stalled || got < total / 3) return cb()
        stalled = true
        setTimeout(cb, 3_000)
      },
    })
    const result = await client.run(IMAGE, { args: ['sh', '-c', `yes abcdefghijklmnopqrstuvwxyz0123456789 | head -c ${total}`], stdio: { stdout } })
    expect(result.exitCode).toBe(0)
    expect(stalled).toBe(true)
    expect(got).toBe(total)
    const entries = await collect(client.logs(result.id))
    expect(entries.reduce((n, e) => n + Buffer.byteLength(e.line) + (e.partial ? 0 : 1), 0)).toBe(total)
    await (await client.containers.get(result.id)).remove()
  })
})

describe('terminals', () => {
  it('runs attached on a terminal (-t): joined output to the caller and the log', async () => {
    const result = await client.run(IMAGE, { args: ['sh', '-c', 'tty; echo out; echo err >&2; exit 4'], tty: true, stdio: 'pipe', name: 'tty-attached' })
    expect(result.exitCode).toBe(4)
    expect(result.stdout).toBe('/dev/pts/0\r\nout\r\nerr\r\n')
    expect(result.stderr).toBe('')
    const entries = await collect(client.logs('tty-attached'))
    expect(entries.map((e) => `${e.stream}:${e.line}`)).toEqual(['stdout:/dev/pts/0\r', 'stdout:out\r', 'stdout:err\r'])
    await (await client.containers.get('tty-attached')).remove()
  })

  it('sizes the terminal from the stdout it is shown on, follows resizes, and feeds stdin (-it)', async () => {
    // A PassThrough stands for the caller's terminal: it carries a size and is read back through StreamText.
    const screen = Object.assign(new PassThrough(), { columns: 100, rows: 40 })
    const text = new StreamText(screen)
    const stdin = new PassThrough()
    const script = 'stty size; trap "stty size; echo resized" WINCH; i=0; while [ $i -lt 300 ] && [ ! -e /tmp/go ]; do sleep 0.05; i=$((i+1)); done; read line; echo "got $line"'
    const run = client.run(IMAGE, { args: ['sh', '-c', script], tty: true, stdio: { stdin, stdout: screen }, name: 'tty-resize' })
    run.catch(() => undefined) // awaited below; a failed wait above must not leave it unhandled
    await text.until(/40 100\r\n/)
    Object.assign(screen, { columns: 120, rows: 30 })
    screen.emit('resize')
    await text.until(/30 120\r\nresized\r\n/)
    // Tell the loop to stop, then type a line (the terminal echoes it).
    const container = await client.containers.get('tty-resize')
    await (await (await container.task()).exec({ args: ['sh', '-c', ': > /tmp/go'], stdio: 'pipe' })).output()
    stdin.write('typed\r')
    const result = await run
    expect(result.exitCode).toBe(0)
    expect(text.value).toContain('got typed\r\n')
    const logged = (await collect(client.logs('tty-resize'))).map((e) => e.line)
    expect(logged).toContain('got typed\r')
    expect(logged).toContain('40 100\r')
    await (await client.containers.get('tty-resize')).remove()
  })

  it('runs detached on a terminal (-dt): the shim keeps it, the log gets its output', async () => {
    const run = await client.run(IMAGE, { args: ['sh', '-c', 'tty; echo detached; echo err >&2'], tty: true, detach: true, name: 'tty-detached' })
    const entries = await collect(client.logs('tty-detached', { follow: true }))
    expect(entries.map((e) => `${e.stream}:${e.line}`)).toEqual(['stdout:/dev/pts/0\r', 'stdout:detached\r', 'stdout:err\r'])
    expect((await (await run.task()).wait()).exitCode).toBe(0)
    await (await client.containers.get('tty-detached')).remove()
  })

  it('restarts a detached terminal on containerd 2.x, and refuses tty with restart where the monitor cannot', async () => {
    const options: RunOptions & { detach: true } = { args: ['sh', '-c', 'echo up; sleep 0.3'], tty: true, detach: true, restart: 'always', stopTimeout: 1 }
    if (daemonLine() === '1.6' || daemonLine() === '1.7') {
      const before = await footprint()
      await expect(client.run(IMAGE, options)).rejects.toThrow(NotImplementedError)
      await expect(client.run(IMAGE, options)).rejects.toThrow(/with tty needs containerd 2\.0/)
      expect(await footprint()).toEqual(before)
      return
    }
    const run = await client.run(IMAGE, options)
    // Bounded: the monitor checks every 10 s by default; wait for a second start's line.
    const deadline = Date.now() + 30_000
    let lines: string[] = []
    while (lines.length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      lines = (await collect(client.logs(run.id))).map((e) => e.line)
    }
    expect(lines.slice(0, 2)).toEqual(['up\r', 'up\r'])
    await (await client.containers.get(run.id)).stop()
    await (await client.containers.get(run.id)).remove({ force: true })
  })

  it('keeps a detached interactive terminal (-dit) open until stopped', async () => {
    const run = await client.run(IMAGE, { args: ['sh'], tty: true, interactive: true, detach: true, stopTimeout: 1 })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await (await run.task()).status()).toBe('running')
    await (await client.containers.get(run.id)).stop()
    await (await client.containers.get(run.id)).remove()
  })
})

/** Runs test/env/run-child.ts (under `script` for a real terminal), writes `input` to it, and resolves with its output once it exited by itself. */
function runChild(tty: boolean, args: string[], input: (io: { write: (s: string) => void; end: () => void; output: () => string }) => Promise<void>): Promise<{ code: number | null; output: string }> {
  const child = [process.execPath, '--import', 'tsx', 'test/env/run-child.ts', daemonAddress(), client.namespace, dataRoot, IMAGE, tty ? 'tty' : 'notty', ...args]
  const quoted = child.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  // `script` gives the child a pseudo-terminal of its own as stdin and stdout.
  const proc = tty ? spawn('script', ['-qec', quoted, '/dev/null'], { stdio: 'pipe' }) : spawn(child[0] as string, child.slice(1), { stdio: 'pipe' })
  let output = ''
  proc.stdout.on('data', (c: Buffer) => { output += c.toString('utf8') })
  proc.stderr.on('data', (c: Buffer) => { output += c.toString('utf8') })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 40_000)
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => proc.once('close', (code) => { clearTimeout(timer); resolve({ code, output }) }))
  void input({ write: (s) => proc.stdin.write(s), end: () => proc.stdin.end(), output: () => output }).catch((err: unknown) => { output += `\ninput failed: ${String(err)}`; proc.kill('SIGKILL') })
  return exited
}

async function until(output: () => string, pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!pattern.test(output())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)}; got ${JSON.stringify(output().slice(-300))}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe("stdio 'inherit' with interactive, in a child process", () => {
  it('-i: feeds this process\'s stdin until it ends, then lets go of it', async () => {
    const { code, output } = await runChild(false, ['sh', '-c', 'while read line; do echo "got $line"; done; echo eof'], async ({ write, end }) => {
      write('one\ntwo\n')
      await new Promise((resolve) => setTimeout(resolve, 200))
      write('three\n')
      end()
    })
    expect(output).toBe('got one\ngot two\ngot three\neof\nexit=0\n')
    expect(code).toBe(0)
  })

  it('-it: raw mode, so Ctrl-C goes to the container; the terminal is restored and the process ends', async () => {
    const script = 'trap "echo caught; exit 5" INT; echo ready; read x; echo "read $x"'
    const { code, output } = await runChild(true, ['sh', '-c', script], async ({ write, output: out }) => {
      await until(out, /ready/)
      write('\x03')
    })
    expect(output).toContain('caught')
    expect(output).toContain('exit=5')
    expect(code).toBe(0)
  })
})

describe('bad input and failures', () => {
  it('refuses impossible combinations before creating anything', async () => {
    const before = await footprint()
    await expect(client.run(IMAGE, { interactive: true, detach: true })).rejects.toThrow(/interactive with detach needs tty/)
    await expect(client.run(IMAGE, { interactive: true, stdio: 'pipe' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.run(IMAGE, { tty: true, stdio: { stdout: sink(), stderr: sink() } })).rejects.toThrow(/joins stderr into stdout/)
    await expect(client.run(IMAGE, { stdio: { terminal: true } as never })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.run(IMAGE, { tty: 'yes' as never })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.run(IMAGE, { logOptions: { maxSize: 'huge' }, stdio: 'pipe' })).rejects.toBeInstanceOf(InvalidArgumentError)
    // A task's stdio takes 'pipe' per output; run()'s does not (it once crashed the process from a data handler).
    await expect(client.run(IMAGE, { args: ['echo', 'x'], stdio: { stdout: 'pipe' } as never })).rejects.toThrow(/use stdio: 'pipe' to collect the output/)
    await expect(client.run(IMAGE, { args: ['echo', 'x'], stdio: { stdoutt: sink() } as never })).rejects.toThrow(/unknown key "stdoutt"/)
    expect(await footprint()).toEqual(before)
  })

  it('fails a run whose logFile cannot be opened, before creating anything', async () => {
    const before = await footprint()
    const logFile = join(dataRoot, 'no-such-dir', 'run.log')
    const run = client.run(IMAGE, { args: ['echo', 'lost'], stdio: { logFile }, name: 'bad-log-file' })
    await expect(run).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(run).rejects.toThrow(/logFile .*no-such-dir.* cannot be opened: ENOENT/)
    expect(await footprint()).toEqual(before)
    expect(existsSync(logFile)).toBe(false)
  })

  it('undoes an attached run that fails to start, terminal or not: no logger, FIFO, name or state dir left', async () => {
    const before = await footprint()
    await expect(client.run(IMAGE, { args: ['/no/such/binary'], tty: true, stdio: 'pipe', name: 'tty-no-binary' })).rejects.toThrow(/no such file|not found/i)
    await expect(client.run(IMAGE, { args: ['/no/such/binary'], stdio: 'pipe', name: 'no-binary' })).rejects.toThrow(/no such file|not found/i)
    // The logger starts while the container is created: a create that fails stops it too.
    await expect(client.run(IMAGE, { memory: 'lots', stdio: 'pipe', name: 'bad-memory' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.run(IMAGE, { args: ['/no/such/binary'], tty: true, detach: true, name: 'tty-no-binary-detached' })).rejects.toThrow(/no such file|not found/i)
    expect(await footprint()).toEqual(before)
  })

  it('fails an attached run whose logger cannot start, with its stderr, leaving nothing behind', async () => {
    const before = await footprint()
    loggerUri.override = `binary://${process.execPath}?-e=${encodeURIComponent('console.error("logger says no"); process.exit(3)')}`
    try {
      await expect(client.run(IMAGE, { args: ['echo', 'x'], stdio: 'pipe', name: 'no-logger' })).rejects.toThrow(/exited \(code 3\) before it was ready: logger says no/)
    } finally {
      loggerUri.override = undefined
    }
    expect(await footprint()).toEqual(before)
  })

  it('an aborted attached run is killed and removed, its logger and terminal released', async () => {
    const before = await footprint()
    const controller = new AbortController()
    const stdin = new PassThrough()
    const screen = new PassThrough()
    const text = new StreamText(screen)
    const run = client.run(IMAGE, { args: ['sh', '-c', 'echo started; sleep 100'], tty: true, stdio: { stdin, stdout: screen }, name: 'aborted', signal: controller.signal })
    run.catch(() => undefined) // awaited below
    await text.until(/started/)
    controller.abort(new Error('enough'))
    await expect(run).rejects.toThrow()
    expect(await footprint()).toEqual(before)
    expect(stdin.listenerCount('data')).toBe(0)
  })
})
