// The pure parts of an attached run's stdio: option checks for tty/interactive, the binary:// command
// containerd's shim would run, and the tee that copies output to the caller and the logger.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable, Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, ResourceExhaustedError } from '../../../src/grpc/errors.js'
import { binaryLoggerCommand, startBinaryLogger } from '../../../src/logs/binary-logger.js'
import { RunIo, Tee } from '../../../src/run/run-io.js'
import type { Task } from '../../../src/tasks/task.js'
import { checkRunOptions } from '../../../src/run/run-options.js'

describe('checkRunOptions: terminals and stdin', () => {
  const ok = (options: Parameters<typeof checkRunOptions>[0]): void => checkRunOptions(options)
  const refused = (options: Parameters<typeof checkRunOptions>[0], message: RegExp): void => {
    expect(() => checkRunOptions(options)).toThrow(InvalidArgumentError)
    expect(() => checkRunOptions(options)).toThrow(message)
  }

  it('accepts -t, -it, -dt, -dit and -i with an input', () => {
    ok({ tty: true })
    ok({ tty: true, interactive: true })
    ok({ tty: true, detach: true })
    ok({ tty: true, interactive: true, detach: true })
    ok({ interactive: true })
    ok({ interactive: true, stdio: { stdin: new PassThrough() } })
    ok({ tty: true, stdio: 'pipe' })
    ok({ tty: true, stdio: { logUri: 'binary:///bin/logger' } })
    // A detached run ignores stdio.
    ok({ detach: true, tty: true, stdio: { stdout: new PassThrough(), stderr: new PassThrough() } })
  })

  it('refuses -di without -t, like nerdctl', () => {
    refused({ interactive: true, detach: true }, /interactive with detach needs tty/)
  })

  it('refuses interactive without an input to feed', () => {
    refused({ interactive: true, stdio: 'pipe' }, /interactive needs an input/)
    refused({ interactive: true, stdio: 'null' }, /interactive needs an input/)
    refused({ interactive: true, stdio: { stdout: new PassThrough() } }, /interactive needs an input.*stdout/)
    refused({ interactive: true, stdio: { logFile: '/tmp/x' } }, /interactive needs an input/)
  })

  it('refuses a stderr stream with a terminal, a bare terminal stdio and non-boolean flags', () => {
    refused({ tty: true, stdio: { stdout: new PassThrough(), stderr: new PassThrough() } }, /joins stderr into stdout/)
    refused({ stdio: { terminal: true } as never }, /set tty: true/)
    refused({ tty: 1 as never }, /tty must be a boolean/)
    refused({ interactive: 'yes' as never }, /interactive must be a boolean/)
    refused({ stdio: 42 as never }, /stdio must be/)
  })

  it("checks run()'s own streams: shapes, unknown keys, and 'pipe' per stream with the fix named", () => {
    refused({ stdio: { stdout: 'pipe' } as never }, /stdio \{ stdout: 'pipe' \} is not a run\(\) stdio: use stdio: 'pipe' to collect the output/)
    refused({ stdio: { stderr: 'pipe' } as never }, /stderr: 'pipe'.*use stdio: 'pipe'/)
    refused({ stdio: { stdin: 'pipe' } as never }, /stdin: 'pipe'/)
    refused({ stdio: { stdoutt: new PassThrough() } as never }, /unknown key "stdoutt"/)
    refused({ stdio: { stdout: process.stdout, extra: 1 } as never }, /unknown key "extra"/)
    refused({ stdio: { stdout: 'out.txt' } as never }, /stdout must be a Writable stream, got string/)
    refused({ stdio: { stdout: null } as never }, /stdout must be a Writable stream, got null/)
    // A bare { write } is no stream: backpressure needs its 'drain' event.
    refused({ stdio: { stdout: { write: () => true } } as never }, /stdout must be a Writable stream, got object/)
    refused({ stdio: { stdin: new Writable() } as never }, /stdin must be a Readable stream/)
    refused({ stdio: 'piped' as never }, /stdio must be 'inherit', 'pipe'/)
    refused({ stdio: { logFile: '' } }, /logFile must be a non-empty path/)
    refused({ stdio: { logFile: '/tmp/x', stdout: process.stdout } as never }, /takes no other key, got "stdout"/)
    refused({ stdio: { logUri: 42 } as never }, /logUri must be/)
    ok({ stdio: { stdin: Readable.from([]), stdout: new PassThrough(), stderr: process.stderr } })
    ok({ stdio: {} })
    ok({ stdio: { logFile: '/tmp/x' } })
    ok({ stdio: { logUri: 'binary:///bin/logger' } })
    // A detached run ignores stdio, as before.
    ok({ detach: true, stdio: { stdout: 'pipe' } as never })
  })
})

describe('binaryLoggerCommand', () => {
  it('splits a binary:// URI the way the shim does: decoded path, then key and value', () => {
    expect(binaryLoggerCommand('binary:///usr/bin/node?%2Fopt%2Fsdk%2Flogger.mjs=%2Fvar%2Flib%2Fnerdctl%2F1935db59')).toEqual({
      path: '/usr/bin/node',
      args: ['/opt/sdk/logger.mjs', '/var/lib/nerdctl/1935db59'],
    })
    expect(binaryLoggerCommand('binary:///opt/my%20logger?data-store=/x&flag')).toEqual({ path: '/opt/my logger', args: ['data-store', '/x', 'flag', ''] })
  })

  it('refuses what is not a logging program', () => {
    expect(() => binaryLoggerCommand('file:///var/log/x')).toThrow(InvalidArgumentError)
    expect(() => binaryLoggerCommand('binary://host/path')).toThrow(/binary:\/\/\/absolute/)
    expect(() => binaryLoggerCommand('not a uri')).toThrow(/not a URI/)
  })

  it('reports a program that cannot start, or exits before it is ready, with its stderr', async () => {
    await expect(startBinaryLogger('binary:///no/such/logger', { id: 'x', namespace: 'n' })).rejects.toThrow(/cannot start logging program \/no\/such\/logger/)
    const uri = `binary://${process.execPath}?-e=${encodeURIComponent('console.error("bad config"); process.exit(3)')}`
    await expect(startBinaryLogger(uri, { id: 'x', namespace: 'n' })).rejects.toThrow(/exited \(code 3\) before it was ready: bad config/)
  })

  it('hands the program its output on fds 3 and 4 and the ids in its environment, and waits for it to finish', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csdk-binary-logger-'))
    try {
      const out = join(dir, 'got.json')
      // A stand-in logger: ready on fd 5, then records fds 3 and 4 (read to EOF) and its environment.
      const script = `const fs=require('fs');fs.writeSync(5,'x');fs.closeSync(5);const got=[fs.readFileSync(3,'utf8'),fs.readFileSync(4,'utf8'),process.env.CONTAINER_ID,process.env.CONTAINER_NAMESPACE,Object.keys(process.env).length];fs.writeFileSync(${JSON.stringify(out)},JSON.stringify(got))`
      const logger = await startBinaryLogger(`binary://${process.execPath}?-e=${encodeURIComponent(script)}`, { id: 'cid', namespace: 'ns' })
      logger.stdout.write('out\n')
      logger.stderr.write('err\n')
      await logger.close()
      await logger.close()
      expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(['out\n', 'err\n', 'cid', 'ns', 2])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('Tee', () => {
  it('writes each chunk to every sink, waits for a slow one, and never ends them', async () => {
    const fast: Buffer[] = []
    const slow: Buffer[] = []
    const fastSink = new Writable({ write(c: Buffer, _e, cb) { fast.push(c); cb() } })
    const slowSink = new Writable({ highWaterMark: 1, write(c: Buffer, _e, cb) { slow.push(c); setTimeout(cb, 5) } })
    const tee = new Tee([fastSink, slowSink])
    const source = Readable.from([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')])
    source.pipe(tee, { end: false })
    expect(await tee.close({ idleMs: 5_000 })).toEqual([])
    expect(Buffer.concat(fast).toString()).toBe('abc')
    expect(Buffer.concat(slow).toString()).toBe('abc')
    expect(fastSink.writableEnded).toBe(false)
    expect(slowSink.writableEnded).toBe(false)
  })

  it('takes its listeners off a waited-for sink when destroyed (a failed run)', async () => {
    const stuck = new Writable({ highWaterMark: 1, write() { /* never calls back */ } })
    const tee = new Tee([stuck])
    tee.write(Buffer.from('xy'))
    await new Promise((r) => setImmediate(r))
    expect(stuck.listenerCount('drain')).toBe(1)
    tee.destroy()
    for (const event of ['drain', 'close', 'error']) expect(stuck.listenerCount(event)).toBe(0)
  })

  it('skips a sink that went away', async () => {
    const kept: Buffer[] = []
    const gone = new PassThrough()
    gone.destroy()
    const tee = new Tee([gone, new Writable({ write(c: Buffer, _e, cb) { kept.push(c); cb() } })])
    await new Promise<void>((resolve) => tee.end('x', () => resolve()))
    expect(Buffer.concat(kept).toString()).toBe('x')
  })

  it('waits for output that comes after a long silence, right before the end', async () => {
    const got: Buffer[] = []
    const tee = new Tee([new Writable({ write(c: Buffer, _e, cb) { got.push(c); cb() } })])
    const source = new PassThrough()
    source.pipe(tee, { end: false })
    await new Promise((resolve) => setTimeout(resolve, 150))
    setTimeout(() => source.end('late'), 50)
    await tee.close({ idleMs: 100 })
    expect(Buffer.concat(got).toString()).toBe('late')
  })

  it('stops waiting for a source that stays open once the output went quiet, and lets go of it', async () => {
    const source = new PassThrough()
    const tee = new Tee([new PassThrough()])
    source.pipe(tee, { end: false })
    source.write('held open')
    const started = Date.now()
    await tee.close({ idleMs: 100 })
    expect(Date.now() - started).toBeLessThan(2_000)
    source.write('after')
  })

  it('waits for a sink that stalls longer than the silence bound, and loses nothing', async () => {
    let got = 0
    let stalled = false
    const slowSink = new Writable({
      highWaterMark: 1,
      write(c: Buffer, _e, cb) {
        got += c.length
        if (stalled) return cb()
        stalled = true
        setTimeout(cb, 400)
      },
    })
    const tee = new Tee([slowSink])
    const source = new PassThrough()
    source.pipe(tee, { end: false })
    const chunk = Buffer.alloc(16 * 1024, 'x')
    for (let i = 0; i < 64; i++) source.write(chunk)
    source.end()
    expect(await tee.close({ idleMs: 100 })).toEqual([])
    expect(got).toBe(64 * chunk.length)
  })

  it('lets go of a sink that never takes its chunk after stallMs, and still feeds the others', async () => {
    const kept: Buffer[] = []
    const stuck = new Writable({ highWaterMark: 1, write() { /* never calls back */ } })
    const tee = new Tee([stuck, new Writable({ write(c: Buffer, _e, cb) { kept.push(c); cb() } })])
    const source = new PassThrough()
    source.pipe(tee, { end: false })
    for (const s of ['a', 'b', 'c']) source.write(s)
    source.end()
    const started = Date.now()
    expect(await tee.close({ idleMs: 100, stallMs: 300 })).toEqual([stuck])
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(Buffer.concat(kept).toString()).toBe('abc')
    expect(stuck.listenerCount('drain')).toBe(0)
  })
})

describe("RunIo with stdio 'pipe': maxBuffer", () => {
  /** The one call RunIo makes on its task past maxBuffer, recorded. */
  function recordingTask(): { task: Task; kills: unknown[][] } {
    const kills: unknown[][] = []
    const task = { kill: async (...args: unknown[]) => { kills.push(args) }, stdout: undefined, stdin: undefined } as unknown as Task
    return { task, kills }
  }
  const write = (w: NodeJS.WritableStream, chunk: Buffer): Promise<void> => new Promise((resolve) => w.write(chunk, () => resolve()))

  it('collects up to maxBuffer bytes per stream, exactly maxBuffer included', async () => {
    const io = new RunIo({ stdio: 'pipe', tty: false, interactive: false, logger: undefined, maxBuffer: 4 })
    const { task, kills } = recordingTask()
    await io.attach(task)
    const { stdout, stderr } = io.taskStdio() as { stdout: Writable; stderr: Writable }
    await write(stdout, Buffer.from('abcd'))
    await write(stderr, Buffer.from('ef'))
    expect(await io.finish({ idleMs: 10 })).toEqual({ stdout: 'abcd', stderr: 'ef' })
    expect(io.overflow).toBeUndefined()
    expect(kills).toEqual([])
  })

  it('past maxBuffer: kills every process of the task once, keeps the error, and keeps nothing more', async () => {
    const io = new RunIo({ stdio: 'pipe', tty: false, interactive: false, logger: undefined, maxBuffer: 1024 })
    const { task, kills } = recordingTask()
    await io.attach(task)
    const { stdout, stderr } = io.taskStdio() as { stdout: Writable; stderr: Writable }
    const before = process.memoryUsage.rss()
    // 512 MiB through the collector, fresh chunks: kept, they would all show in the RSS. V8 collects
    // dropped Buffers lazily (Node 24 let 128 MiB pile up on a loaded machine), so the bound only tells
    // "kept" from "dropped", with room for a late collection.
    for (let i = 0; i < 512; i++) await write(stdout, Buffer.alloc(1024 * 1024, 'y'))
    await write(stderr, Buffer.alloc(2048))
    expect(process.memoryUsage.rss() - before).toBeLessThan(384 * 1024 * 1024)
    expect(io.overflow).toBeInstanceOf(ResourceExhaustedError)
    expect(io.overflow?.message).toBe('stdout exceeded maxBuffer (1024 bytes)')
    expect(kills).toEqual([['SIGKILL', { all: true }]])
    expect(await io.finish({ idleMs: 10 })).toEqual({ stdout: '', stderr: '' })
  })

  it('defaults to 1 MiB, like child_process, and refuses a bad maxBuffer', async () => {
    const io = new RunIo({ stdio: 'pipe', tty: false, interactive: false, logger: undefined })
    await io.attach(recordingTask().task)
    const { stdout } = io.taskStdio() as { stdout: Writable }
    await write(stdout, Buffer.alloc(1024 * 1024))
    expect(io.overflow).toBeUndefined()
    await write(stdout, Buffer.alloc(1))
    expect(io.overflow?.message).toBe('stdout exceeded maxBuffer (1048576 bytes)')
    await io.finish({ idleMs: 10 })
    expect(() => new RunIo({ stdio: 'pipe', tty: false, interactive: false, logger: undefined, maxBuffer: 1.5 })).toThrow(InvalidArgumentError)
  })
})
