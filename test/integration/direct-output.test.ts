import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Client, Image } from '../../src/index.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'
import { StreamText } from '../env/stream-text.js'
import { connectTestClient, daemonAddress } from '../env/test-client.js'

// A task's output read straight from its process's pipes: stdio streams without stdin, 'inherit' and
// { logFile } take this path (the shim's binary:// scheme with our holder, see src/tasks/output-holder.ts).

const run = promisify(execFile)
const client: Client = await connectTestClient('direct-output')
let image: Image
const IMAGE = 'docker.io/library/busybox-direct:1'

beforeAll(async () => {
  image = await runnableBusybox(client, IMAGE)
})

/** A Writable that keeps what it is given. */
function collector(): { sink: Writable; text: () => string; bytes: () => number } {
  const chunks: Buffer[] = []
  let bytes = 0
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk)
      bytes += chunk.length
      callback()
    },
  })
  return { sink, text: () => Buffer.concat(chunks).toString('latin1'), bytes: () => bytes }
}

/** Waits (at most `ms`) for `check` to hold. */
async function eventually(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Pids of output holders (our perl program) whose parent is `ppid`. */
async function holdersOf(ppid: number): Promise<number[]> {
  const found: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const [cmdline, status] = await Promise.all([
      readFile(join('/proc', entry, 'cmdline'), 'utf8').catch(() => ''),
      readFile(join('/proc', entry, 'status'), 'utf8').catch(() => ''),
    ])
    if (cmdline.includes('containerd-sdk output holder') && new RegExp(`^PPid:\\s+${ppid}$`, 'm').test(status)) found.push(Number(entry))
  }
  return found
}

async function parentOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1])
}

describe('direct output', () => {
  it('reads stdout and stderr from the process pipes, whole and in order, ending at exit', async () => {
    const id = uniqueId('direct')
    // 3 MiB of zeros (more than the 1 MiB pipe), then a marker on each stream.
    const container = await client.containers.create(id, { image, args: ['sh', '-c', 'dd if=/dev/zero bs=64k count=48 2>/dev/null; echo end; echo err-end >&2'] })
    const out = collector()
    const err = collector()
    const task = await container.newTask({ stdio: { stdout: out.sink, stderr: err.sink } })
    const info = await client.services.tasks.get({ containerId: id })
    expect(info.process?.stdout).toMatch(/^binary:\/\/\/usr\/bin\/perl\?-e=/)
    expect(info.process?.stdin).toBe('')
    const shim = await parentOf(task.pid)
    expect(await holdersOf(shim)).toHaveLength(1)
    const exited = task.wait()
    await task.start()
    expect((await exited).exitCode).toBe(0)
    // Everything arrives without the task being deleted: the streams drain the pipes once the process exited.
    await eventually(() => out.bytes() === 48 * 65536 + 4 && err.bytes() === 8)
    expect(out.text().endsWith('\0\0end\n')).toBe(true)
    expect(err.text()).toBe('err-end\n')
    await task.delete()
    // The shim stops the holder at delete.
    expect(await holdersOf(shim)).toEqual([])
    await container.delete()
  })

  it("gives Readables for 'pipe' per output that end when the process ends, direct or beside a stdin stream", async () => {
    const script = 'dd if=/dev/zero bs=64k count=40 2>/dev/null; echo err-end >&2; cat'
    const direct = await client.containers.create(uniqueId('direct-pipe'), { image, args: ['sh', '-c', script] })
    const task = await direct.newTask({ stdio: { stdout: 'pipe', stderr: 'pipe' } })
    expect((await client.services.tasks.get({ containerId: direct.id })).process?.stdout).toMatch(/^binary:/)
    expect(task.stdin).toBeUndefined()
    const out = new StreamText(task.stdout)
    const err = new StreamText(task.stderr)
    await task.start()
    // Both end without the task being deleted (cat reads the empty stdin and exits).
    await eventually(() => out.done && err.done)
    expect(out.value.length).toBe(40 * 65536)
    expect(err.value).toBe('err-end\n')
    await task.wait()
    expect((await task.delete()).exitCode).toBe(0)
    await direct.delete()

    // With a stdin stream the shim's FIFOs carry the outputs; 'pipe' works the same.
    const fifo = await client.containers.create(uniqueId('fifo-pipe'), { image, args: ['sh', '-c', script] })
    const fed = await fifo.newTask({ stdio: { stdin: Readable.from(['fed\n']), stdout: 'pipe', stderr: 'pipe' } })
    expect((await client.services.tasks.get({ containerId: fifo.id })).process?.stdout).toMatch(/^\/run\/containerd\/fifo\//)
    const fifoOut = new StreamText(fed.stdout)
    const fifoErr = new StreamText(fed.stderr)
    await fed.start()
    await eventually(() => fifoOut.done && fifoErr.done)
    expect(fifoOut.value.length).toBe(40 * 65536 + 4)
    expect(fifoOut.value.endsWith('fed\n')).toBe(true)
    expect(fifoErr.value).toBe('err-end\n')
    // The outputs can end before containerd has seen the exit: waited for, then deleted.
    await fed.wait()
    expect((await fed.delete()).exitCode).toBe(0)
    await expect(fifo.newTask({ stdio: { stdout: 'pipes' as 'pipe' } })).rejects.toThrow(/stdout and stderr Writables or 'pipe'/)
    await fifo.delete()
  })

  it('drains an output nobody asked for, so the process never blocks on it', async () => {
    const container = await client.containers.create(uniqueId('direct-unread'), { image, args: ['sh', '-c', 'dd if=/dev/zero bs=1M count=4 2>/dev/null; echo done >&2'] })
    const err = collector()
    const task = await container.newTask({ stdio: { stderr: err.sink } })
    const exited = task.wait()
    await task.start()
    const status = await Promise.race([exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the process blocked on its unread stdout')), 20_000))])
    expect(status.exitCode).toBe(0)
    await task.delete()
    expect(err.text()).toBe('done\n')
    await container.delete()
  })

  it('holds back a writer while the consumer does not read (backpressure)', async () => {
    const container = await client.containers.create(uniqueId('direct-slow'), { image, args: ['sh', '-c', 'dd if=/dev/zero bs=1M count=16 2>/dev/null'] })
    let taken = 0
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => { release = resolve })
    // Takes the first chunk, then nothing until released.
    const stalled = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        taken += chunk.length
        if (taken > 64 * 1024) void gate.then(() => callback())
        else callback()
      },
    })
    const task = await container.newTask({ stdio: { stdout: stalled } })
    const exited = task.wait()
    await task.start()
    await new Promise((r) => setTimeout(r, 500))
    // 16 MiB cannot fit in the pipe and the buffers: the writer is still running, held back.
    expect(await task.status()).toBe('running')
    expect(taken).toBeLessThan(16 * 1024 * 1024)
    release()
    expect((await exited).exitCode).toBe(0)
    await eventually(() => taken === 16 * 1024 * 1024, 10_000)
    await task.delete()
    await container.delete()
  })

  it('falls back to FIFOs for a client in another pid namespace, where the task pids mean nothing', async () => {
    const id = uniqueId('direct-pidns')
    const child = await run('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '--import', 'tsx', join(import.meta.dirname, '../env/direct-output-child.ts'), daemonAddress(), client.namespace, id, IMAGE], { timeout: 60_000 })
    const result = JSON.parse(child.stdout.trim()) as { uri: string; output: string; exitCode: number }
    expect(result.uri.startsWith('/run/containerd/fifo/')).toBe(true)
    expect(result.output).toBe('hello\n')
    expect(result.exitCode).toBe(0)
    // Nothing of the failed first try is left: no task, no container.
    expect(await client.containers.list({ filters: [`id==${id}`] })).toEqual([])
  })

  it('reattaches to a task with direct output from a new client after the first one died (Attach)', async () => {
    const id = uniqueId('direct-attach')
    const child = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../env/attach-child.ts'), daemonAddress(), client.namespace, id, IMAGE, 'streams'], { timeout: 60_000 })
    expect(child.stdout.trim()).toBe(id)
    const container = await client.containers.get(id)
    expect((await client.services.tasks.get({ containerId: id })).process?.stdout).toMatch(/^binary:\/\/\/usr\/bin\/perl/)
    const task = await container.task({ attach: true })
    const out = new StreamText(task.stdout)
    const text = await out.until(/(line-\d+\n[^]*){20}/)
    const numbers = [...text.matchAll(/line-(\d+)\n/g)].map((m) => Number(m[1]))
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBe((numbers[i - 1] ?? 0) + 1)
    // A client in another pid namespace cannot reach the pipes: a typed error, not silence.
    const elsewhere = await run('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '--import', 'tsx', join(import.meta.dirname, '../env/direct-output-child.ts'), daemonAddress(), client.namespace, id, IMAGE, 'attach'], { timeout: 60_000 })
    expect(JSON.parse(elsewhere.stdout.trim())).toMatchObject({ name: 'FailedPreconditionError' })
    // The stream ends once the process is gone, before the task is deleted.
    await task.kill('SIGKILL')
    await eventually(() => out.done)
    // Attaching to the stopped task gives no streams: its pipes went with its process.
    const stopped = await container.task({ attach: true })
    expect(await stopped.status()).toBe('stopped')
    expect(stopped.stdout).toBeUndefined()
    await task.delete({ force: true })
    await container.delete()
  })
})
