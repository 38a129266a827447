// Run as a separate process by test/integration/stream-errors.test.ts: performs one case of a stream or
// path the caller names that cannot be used, and prints what the call rejected with as one JSON line.
// It installs no 'error', 'uncaughtException' or 'unhandledRejection' handler, so an 'error' event
// nothing listens to, or a promise nobody awaits, kills it with a non-zero exit: the test sees a crash.
// After the call settles it stays up a moment, for a late 'error' event to surface.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { Client, isContainerdError, type Container } from '../../src/index.js'
import { readLogs } from '../../src/logs/log-reader.js'

const [address, namespace, dataRoot, image, archive, dir, name] = process.argv.slice(2)
if (address === undefined || namespace === undefined || dataRoot === undefined || image === undefined || archive === undefined || dir === undefined || name === undefined) {
  throw new Error('usage: stream-errors-child <address> <namespace> <data root> <image> <archive> <scratch dir> <case>')
}
const archivePath: string = archive
const imageName: string = image
// Bounded: a case that hangs is a failure too (exit 3).
const guard = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ hung: true })}\n`)
  process.exit(3)
}, 60_000)

const client = await Client.connect({ address, namespace, dataRoot })
const id = `se-${name}-${process.pid}`

/** A Writable already destroyed. */
function destroyedWritable(): Writable {
  const w = new Writable({ write: (_c, _e, cb) => cb() })
  w.destroy()
  return w
}
/** A Writable whose first write fails. */
function failingWritable(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb(new Error('the disk is on fire')) })
}
/** A Readable that hands out `head` and then fails. */
function failingReadable(head: Buffer): Readable {
  let sent = false
  return new Readable({
    read() {
      if (!sent) {
        sent = true
        this.push(head)
      } else this.destroy(new Error('the network went away'))
    },
  })
}
function destroyedReadable(): Readable {
  const r = new Readable({ read() {} })
  r.destroy()
  return r
}
async function archiveHead(): Promise<Buffer> {
  const { readFile } = await import('node:fs/promises')
  return (await readFile(archivePath)).subarray(0, 64 * 1024)
}

/** Runs `echo` in a new container with the given task stdio, waits for it, and removes it. */
async function taskWith(stdio: Parameters<Container['newTask']>[0] extends infer O ? (O extends { stdio?: infer S } ? S : never) : never, args = ['sh', '-c', 'echo out; echo err >&2']): Promise<number> {
  const container = await client.containers.create(id, { image: imageName, args })
  try {
    const task = await container.newTask({ stdio })
    try {
      const exited = task.wait()
      await task.start()
      return (await exited).exitCode
    } finally {
      await task.delete({ force: true }).catch(() => undefined)
    }
  } finally {
    await container.delete().catch(() => undefined)
  }
}

const cases: Record<string, () => Promise<unknown>> = {
  'import-missing-path': () => client.images.import(join(dir, 'missing', 'images.tar')),
  'import-directory': () => client.images.import(dir),
  'import-destroyed-stream': () => client.images.import(destroyedReadable()),
  'import-stream-fails-midway': async () => client.images.import(failingReadable(await archiveHead())),
  'export-missing-dir': () => client.images.export([image], join(dir, 'missing', 'out.tar')),
  'export-directory': () => client.images.export([image], dir),
  // sysfs refuses new files even to root: a directory the export cannot write in.
  'export-read-only-dir': () => client.images.export([image], '/sys/kernel/csdk-out.tar'),
  'export-destroyed-stream': () => client.images.export([image], destroyedWritable()),
  'export-stream-fails-first-write': () => client.images.export([image], failingWritable()),
  'task-logfile-missing-dir': () => taskWith({ logFile: join(dir, 'missing', 'task.log') }),
  'task-logfile-directory': () => taskWith({ logFile: dir }),
  'task-logfile-read-only-dir': () => taskWith({ logFile: '/sys/kernel/csdk-task.log' }),
  'task-stdout-destroyed': () => taskWith({ stdout: destroyedWritable() }),
  'task-stdout-fails-first-write': () => taskWith({ stdout: failingWritable() }),
  'task-stdin-fails-midway': () => taskWith({ stdin: failingReadable(Buffer.from('line\n')), stdout: new Writable({ write: (_c, _e, cb) => cb() }) }, ['cat']),
  'task-stdin-destroyed': () => taskWith({ stdin: destroyedReadable() }, ['cat']),
  'run-stdout-destroyed': () => client.run(image, { args: ['echo', 'hi'], rm: true, stdio: { stdout: destroyedWritable() } }),
  'run-stdout-fails-first-write': () => client.run(image, { args: ['echo', 'hi'], rm: true, stdio: { stdout: failingWritable() } }),
  'run-stdin-fails-midway': () => client.run(image, { args: ['cat'], rm: true, stdio: { stdin: failingReadable(Buffer.from('line\n')), stdout: new Writable({ write: (_c, _e, cb) => cb() }) } }),
  'run-logfile-directory': () => client.run(image, { args: ['echo', 'hi'], rm: true, stdio: { logFile: dir } }),
  'logs-file-is-directory': async () => {
    const path = join(dir, 'logdir', 'c-json.log')
    await mkdir(path, { recursive: true })
    const lines: string[] = []
    for await (const e of readLogs(path)) lines.push(e.line)
    return lines
  },
  'logs-file-unparsable': async () => {
    const path = join(dir, 'bad-json.log')
    await writeFile(path, 'not json\n')
    const lines: string[] = []
    for await (const e of readLogs(path)) lines.push(e.line)
    return lines
  },
  'content-write-stream-fails-midway': () => client.content.writeBlob(failingReadable(Buffer.alloc(1024, 1)), { size: 4096 }),
  'content-write-destroyed-stream': () => client.content.writeBlob(destroyedReadable(), { size: 4096 }),
  'content-read-missing': async () => {
    const chunks: Buffer[] = []
    for await (const c of client.content.read(`sha256:${'0'.repeat(64)}`) as AsyncIterable<Buffer>) chunks.push(c)
    return chunks
  },
}

const run = cases[name]
if (run === undefined) throw new Error(`unknown case ${name}`)
let report: Record<string, unknown>
try {
  const value = await run()
  report = { resolved: true, value: typeof value === 'number' ? value : typeof value }
} catch (err) {
  report = { resolved: false, typed: isContainerdError(err), name: (err as Error).name, code: (err as { code?: unknown }).code, message: (err as Error).message }
}
await sleep(500)
clearTimeout(guard)
client.close()
process.stdout.write(`${JSON.stringify(report)}\n`)
