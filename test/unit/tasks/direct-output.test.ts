import { execFileSync, spawn } from 'node:child_process'
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DirectOutput, openProcessPipe } from '../../../src/tasks/direct-output.js'
import { isHolderStartFailure, OUTPUT_HOLDER_URI } from '../../../src/tasks/output-holder.js'

// DirectOutput over a FIFO standing in for a container's pipe: a writer end stays open (as the shim's does
// until the task is deleted), so the stream can only end through the exit signal.

let dir: string
let reader: number
let writer: number

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'csdk-direct-'))
  const path = join(dir, 'out')
  execFileSync('mkfifo', [path])
  reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  writer = openSync(path, constants.O_WRONLY)
})
afterEach(() => {
  closeSync(writer)
  rmSync(dir, { recursive: true, force: true })
})

function collect(stream: DirectOutput): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    stream.on('data', (chunk: Buffer) => { text += chunk.toString() })
    stream.once('end', () => resolve(text))
    stream.once('error', reject)
  })
}

describe('DirectOutput', () => {
  it('ends once the process exited, with what was left in the pipe, though a writer is still open', async () => {
    let exit: () => void = () => undefined
    const stream = new DirectOutput(reader, new Promise<void>((resolve) => { exit = resolve }))
    const text = collect(stream)
    writeSync(writer, 'first\n')
    await new Promise((r) => setTimeout(r, 50))
    writeSync(writer, 'last\n') // still in the pipe when the exit is reported
    exit()
    expect(await text).toBe('first\nlast\n')
  })

  it('drains the pipe at exit even while its consumer is paused', async () => {
    let exit: () => void = () => undefined
    const stream = new DirectOutput(reader, new Promise<void>((resolve) => { exit = resolve }))
    const chunk = 'x'.repeat(32 * 1024)
    for (let i = 0; i < 2; i++) writeSync(writer, chunk)
    exit()
    await new Promise((r) => setTimeout(r, 50))
    expect((await collect(stream)).length).toBe(2 * chunk.length)
  })

  it('ends at the pipe EOF when the exit is never reported', async () => {
    const stream = new DirectOutput(reader, Promise.reject(new Error('wait failed')))
    const text = collect(stream)
    writeSync(writer, 'only\n')
    closeSync(writer)
    writer = openSync('/dev/null', constants.O_WRONLY) // for afterEach
    expect(await text).toBe('only\n')
  })

  it('refuses a descriptor that is not a pipe', () => {
    const fd = openSync('/dev/null', constants.O_RDONLY)
    try {
      expect(() => openProcessPipe(process.pid, fd)).toThrow(/not a pipe/)
    } finally {
      closeSync(fd)
    }
  })
})

describe('output holder', () => {
  it('is a binary:// URI the shim runs with perl, one argument pair', () => {
    const url = new URL(OUTPUT_HOLDER_URI)
    expect(url.protocol).toBe('binary:')
    expect(url.pathname).toBe('/usr/bin/perl')
    expect([...url.searchParams.keys()]).toEqual(['-e'])
    // Go's query parser refuses raw semicolons; they must be escaped.
    expect(url.search).not.toContain(';')
    expect(url.searchParams.get('-e')).toContain('containerd-sdk output holder')
  })

  it('enlarges both pipes, reports ready on fd 5, and stays without reading', async () => {
    const fifo = (name: string): number => {
      const path = join(dir, name)
      execFileSync('mkfifo', [path])
      return openSync(path, constants.O_RDWR | constants.O_NONBLOCK)
    }
    const [out, err, ready] = [fifo('o'), fifo('e'), fifo('r')]
    const holder = spawn('/usr/bin/perl', ['-e', new URL(OUTPUT_HOLDER_URI).searchParams.get('-e') ?? ''], { stdio: ['ignore', 'ignore', 'inherit', out, err, ready] })
    try {
      const readyByte = new Socket({ fd: openSync(join(dir, 'r'), constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false })
      const first = await new Promise<Buffer>((resolve) => readyByte.once('data', resolve))
      readyByte.destroy()
      expect(first.toString()).toBe('r')
      // F_GETPIPE_SZ (1032) through perl, as Node has no fcntl.
      const size = (fd: number): string => execFileSync('/usr/bin/perl', ['-e', 'open(my $f, "<&=", 3) or die; print fcntl($f, 1032, 0)'], { stdio: ['ignore', 'pipe', 'inherit', fd] }).toString()
      expect(size(out)).toBe(String(1024 * 1024))
      expect(size(err)).toBe(String(1024 * 1024))
      writeSync(out, 'kept\n')
      await new Promise((r) => setTimeout(r, 100))
      expect(readSync(out, Buffer.alloc(16))).toBe(5) // the holder did not read it
      expect(holder.exitCode).toBeNull()
    } finally {
      holder.kill('SIGTERM')
      await new Promise((r) => holder.once('exit', r))
      for (const fd of [out, err, ready]) closeSync(fd)
    }
  })

  it('tells the shim failing to start it from other create errors', () => {
    expect(isHolderStartFailure(new Error('failed to start binary process: fork/exec /usr/bin/perl: no such file or directory'))).toBe(true)
    expect(isHolderStartFailure(new Error('failed to read from logging binary: EOF'))).toBe(true)
    expect(isHolderStartFailure(new Error('exec: "nope": executable file not found in $PATH'))).toBe(false)
  })
})
