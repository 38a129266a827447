/**
 * The build context sender on its own (no daemon, no transport): walk, send and receive of the issue's
 * context, 10 000 files of 1 KiB in 100 directories plus one 200 MiB file, over an in-memory packet pipe.
 *
 *   node --import tsx bench/build/filesync-only.ts
 *   BENCH_QUICK=1 …          1 000 files and a 32 MiB file
 *   BENCH_FILESYNC_CHUNKS=32,256,1024   DATA chunk sizes to compare, in KiB
 *
 * Three figures per chunk size: the walk alone (entries/s), the send against an in-memory receiver that
 * asks for every file in listing order and drops the bytes (files/s, MB/s of the whole transfer), and a
 * full round trip into a directory with our receiver (what the `local` exporter path costs).
 * Protobuf encoding and HTTP/2 framing are not included: this measures the protocol logic and the disk.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isRegularGoMode } from '../../src/build/filesync/file-mode.js'
import { PacketType, type FsutilPacket, type PacketStream } from '../../src/build/filesync/fsutil-types.js'
import { receiveFiles } from '../../src/build/filesync/receive-files.js'
import { sendContext } from '../../src/build/filesync/send-context.js'
import { walkContext } from '../../src/build/filesync/walk-context.js'
import { AsyncQueue } from '../../src/util/async-queue.js'

const quick = process.env['BENCH_QUICK'] === '1'
const FILES = quick ? 1_000 : 10_000
const BIG = (quick ? 32 : 200) * 1024 * 1024
const CHUNKS = (process.env['BENCH_FILESYNC_CHUNKS'] ?? '32,256,1024').split(',').map((k) => Number(k) * 1024)

function pipe(): [PacketStream, PacketStream, () => void] {
  const ab = new AsyncQueue<FsutilPacket>(64)
  const ba = new AsyncQueue<FsutilPacket>(64)
  const end = (out: AsyncQueue<FsutilPacket>, inn: AsyncQueue<FsutilPacket>): PacketStream => ({
    async send(p) {
      await out.space()
      out.push(p)
    },
    receive: () => inn,
  })
  return [end(ab, ba), end(ba, ab), () => (ab.close(), ba.close())]
}

/** A receiver that asks for every regular file, counts the bytes, and finishes. */
async function countingReceiver(io: PacketStream): Promise<number> {
  const it = io.receive()[Symbol.asyncIterator]()
  const ids: number[] = []
  for (let id = 0; ; id++) {
    const { value } = (await it.next()) as IteratorResult<FsutilPacket, undefined>
    if (value?.stat === undefined) break
    if (isRegularGoMode(value.stat.mode) && value.stat.linkname === '') ids.push(id)
  }
  // Ask in a background loop, as the daemon does while data flows.
  void (async () => {
    for (const id of ids) await io.send({ type: PacketType.REQ, id })
  })()
  let open = ids.length
  let bytes = 0
  while (open > 0) {
    const { value } = (await it.next()) as IteratorResult<FsutilPacket, undefined>
    if (value === undefined) throw new Error('stream ended')
    if (value.data === undefined || value.data.length === 0) open--
    else bytes += value.data.length
  }
  await io.send({ type: PacketType.FIN })
  await it.next()
  return bytes
}

async function makeContext(root: string): Promise<void> {
  const kib = randomBytes(1024)
  for (let d = 0; d < 100; d++) {
    await mkdir(join(root, `dir${d}`))
    await Promise.all(Array.from({ length: FILES / 100 }, (_, f) => writeFile(join(root, `dir${d}`, `file${f}`), kib)))
  }
  const handle = await open(join(root, 'big.bin'), 'w')
  const block = randomBytes(1024 * 1024)
  for (let written = 0; written < BIG; written += block.length) await handle.write(block)
  await handle.close()
}

/** CPU time (user + system) of this process since `from`, in ms: steadier than wall time on a busy machine. */
const cpuMs = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from)
  return Math.round((d.user + d.system) / 1000)
}

const mb = (bytes: number, ms: number): string => ((bytes / 1e6) / (ms / 1e3)).toFixed(0)

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'csdk-bench-filesync-'))
  try {
    const ctx = join(work, 'ctx')
    await mkdir(ctx)
    await makeContext(ctx)
    const total = FILES * 1024 + BIG
    const results: Record<string, number>[] = []

    // Twice: the first walk also pays for loading and compiling the code.
    let t = 0
    let cpu = process.cpuUsage()
    let entries = 0
    let walkMs = 0
    let walkCpu = 0
    for (let run = 0; run < 2; run++) {
      t = performance.now()
      cpu = process.cpuUsage()
      entries = 0
      for await (const _ of walkContext(ctx)) entries++
      walkMs = performance.now() - t
      walkCpu = cpuMs(cpu)
      console.log(`walk ${run}: ${entries} entries in ${walkMs.toFixed(0)} ms (cpu ${walkCpu} ms) = ${((entries / walkMs) * 1000).toFixed(0)} entries/s`)
    }

    for (const chunkSize of CHUNKS) {
      for (let run = 0; run < 2; run++) {
        const [a, b, close] = pipe()
        t = performance.now()
        cpu = process.cpuUsage()
        const [sent, counted] = await Promise.all([sendContext(ctx, { chunkSize }, a), countingReceiver(b)])
        const sendMs = performance.now() - t
        const sendCpu = cpuMs(cpu)
        close()
        if (counted !== total || sent.bytesSent !== total) throw new Error(`sent ${sent.bytesSent}, counted ${counted}, want ${total}`)

        const dst = join(work, `dst-${chunkSize}-${run}`)
        const [c, d, close2] = pipe()
        t = performance.now()
        cpu = process.cpuUsage()
        await Promise.all([sendContext(ctx, { chunkSize }, c), receiveFiles(dst, d)])
        const tripMs = performance.now() - t
        const tripCpu = cpuMs(cpu)
        close2()
        await rm(dst, { recursive: true, force: true })
        const row = { chunkKiB: chunkSize / 1024, run, sendMs: Math.round(sendMs), sendCpu, tripMs: Math.round(tripMs), tripCpu }
        results.push(row)
        console.log(
          `chunk ${chunkSize / 1024} KiB run ${run}: send ${sendMs.toFixed(0)} ms (${mb(total, sendMs)} MB/s, ${((FILES + 1) / (sendMs / 1000)).toFixed(0)} files/s, cpu ${sendCpu} ms); ` +
            `round trip to disk ${tripMs.toFixed(0)} ms (${mb(total, tripMs)} MB/s, cpu ${tripCpu} ms)`,
        )
      }
    }
    console.log(`BENCH_RESULT ${JSON.stringify({ files: FILES, bigBytes: BIG, walkMs: Math.round(walkMs), walkCpu, entries, results })}`)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

await main()
