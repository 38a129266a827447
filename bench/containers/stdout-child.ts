/**
 * One process writing to stdout, read by this process, in a process of its own so its peak RSS is the
 * reading's and not the bench's. Started by stdout-throughput.ts:
 *
 *   node --import tsx bench/containers/stdout-child.ts <socket> <namespace> <image> <container id> <MiB> <delay ms> [pipe|direct]
 *
 * The writer is `busybox dd if=/dev/zero bs=1M count=<MiB>` in a container of `<image>`, read through
 * `stdio: 'pipe'` (`pipe`, the default: the shim copies its stdout into a FIFO) or `stdio: { stdout: 'pipe',
 * stderr: 'pipe' }` (`direct`: no stdin, so the SDK reads the process's own pipe, no shim copy). With
 * `<image>` = `host` it is the same static busybox run on the host as a plain child process instead: the
 * floor of a Node pipe reader on this machine, without shim or FIFO (no containerd is involved; socket,
 * namespace and id are ignored).
 *
 * The output is piped (`pipeline`, so backpressure holds) into a Writable that counts the bytes and, with
 * `<delay ms>` > 0, takes the next chunk only that long after the last one: a slow consumer. Prints one
 * JSON line: bytes and chunks read; the stream time (writer start to stdout's end) and this process's CPU
 * time over it; the lifecycle time (container create to container deleted; for `host`, the stream time);
 * the peak RSS (VmHWM, and the largest of RSS samples taken every 20 ms while reading) and the RSS before.
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Client } from '../../src/index.js'
import { CONTAINER_BENCH_LABEL } from './container-fixture.js'
import { nowUs } from '../lib/stats.js'

const MiB = 1024 * 1024
/** The host's static busybox: the binary the bench image is built from. */
const HOST_BUSYBOX = '/bin/busybox'

/** VmHWM, the high-water mark of this address space (see pull-child.ts for why not `resourceUsage().maxRSS`). */
async function peakRssMiB(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8')
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]
  if (kib === undefined) throw new Error('no VmHWM in /proc/self/status')
  return Number(kib) / 1024
}

/** Counts what it is given; with a delay it takes the next chunk only that long after the last one. */
function countingSink(delayMs: number): { sink: Writable; bytes: () => number; chunks: () => number } {
  let bytes = 0
  let chunks = 0
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length
      chunks++
      if (delayMs > 0) setTimeout(callback, delayMs)
      else callback()
    },
  })
  return { sink, bytes: () => bytes, chunks: () => chunks }
}

/** A started writer: its stdout, its stderr, and how it exits. */
interface Writer {
  stdout: Readable
  stderr: Readable
  exited: Promise<number>
}

/** Reads one writer's stdout into the sink, timing it and sampling this process's RSS meanwhile. */
async function measure(start: () => Promise<Writer>, sink: Writable, baseRssMiB: number) {
  let sampledPeakRssMiB = baseRssMiB
  const sampler = setInterval(() => {
    sampledPeakRssMiB = Math.max(sampledPeakRssMiB, process.memoryUsage.rss() / MiB)
  }, 20)
  try {
    const started = nowUs()
    const cpuBefore = process.cpuUsage()
    const writer = await start()
    let stderr = ''
    writer.stderr.setEncoding('utf8').on('data', (text: string) => {
      if (stderr.length < 4096) stderr += text
    })
    await pipeline(writer.stdout, sink)
    const streamMs = (nowUs() - started) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    const exitCode = await writer.exited
    if (exitCode !== 0) throw new Error(`dd exited ${exitCode}: ${stderr.trim()}`)
    return { streamMs, streamCpuMs: (cpu.user + cpu.system) / 1000, sampledPeakRssMiB }
  } finally {
    clearInterval(sampler)
  }
}

function ddArgs(mib: number): string[] {
  return ['dd', 'if=/dev/zero', 'bs=1M', `count=${mib}`]
}

async function onHost(mib: number, sink: Writable, baseRssMiB: number) {
  const result = await measure(async () => {
    const child = spawn(HOST_BUSYBOX, ddArgs(mib), { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<number>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (code) => resolve(code ?? -1))
    })
    return { stdout: child.stdout, stderr: child.stderr, exited }
  }, sink, baseRssMiB)
  return { ...result, lifecycleMs: result.streamMs }
}

/** Ours in a container, stdout piped into the sink; the stream ends with stdout's end (see the header for the modes). */
async function inContainer(client: Client, image: string, id: string, mib: number, counter: ReturnType<typeof countingSink>, baseRssMiB: number, mode: string) {
  const begin = nowUs()
  const container = await client.containers.create(id, { image, args: ['busybox', ...ddArgs(mib)], labels: { [CONTAINER_BENCH_LABEL]: 'stdout' } })
  let result: Awaited<ReturnType<typeof measure>>
  try {
    const task = await container.newTask({ stdio: mode === 'direct' ? { stdout: 'pipe', stderr: 'pipe' } : 'pipe' })
    try {
      const { stdout, stderr } = task
      task.stdin?.end()
      result = await measure(async () => {
        const exited = task.wait().then((s) => s.exitCode) // before start, so a fast exit is not missed
        await task.start()
        if (stdout === undefined || stderr === undefined) throw new Error("stdio 'pipe' gave no streams")
        return { stdout, stderr, exited }
      }, counter.sink, baseRssMiB)
    } finally {
      await task.delete({ force: true })
    }
  } finally {
    await container.delete()
  }
  return { ...result, lifecycleMs: (nowUs() - begin) / 1000 }
}

async function main(): Promise<void> {
  const [address, namespace, image, id, mibText, delayText, mode = 'pipe'] = process.argv.slice(2)
  if (address === undefined || namespace === undefined || image === undefined || id === undefined || mibText === undefined || delayText === undefined || !['pipe', 'direct'].includes(mode)) {
    throw new Error('usage: stdout-child.ts <socket> <namespace> <image|host> <container id> <MiB> <delay ms> [pipe|direct]')
  }
  const mib = Number(mibText)
  const counter = countingSink(Number(delayText))
  let baseRssMiB: number
  let result
  if (image === 'host') {
    baseRssMiB = process.memoryUsage.rss() / MiB
    result = await onHost(mib, counter.sink, baseRssMiB)
  } else {
    const client = await Client.connect({ address, namespace })
    try {
      await client.version() // the connection is up before the clock starts, as in the bench process
      baseRssMiB = process.memoryUsage.rss() / MiB
      result = await inContainer(client, image, id, mib, counter, baseRssMiB, mode)
    } finally {
      client.close()
    }
  }
  console.log(JSON.stringify({ bytes: counter.bytes(), chunks: counter.chunks(), ...result, baseRssMiB, maxRssMiB: await peakRssMiB() }))
}

main().catch((err: unknown) => {
  console.error('stdout-child failed:', err)
  process.exitCode = 1
})
