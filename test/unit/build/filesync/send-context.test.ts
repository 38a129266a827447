import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileSyncError } from '../../../../src/build/filesync/filesync-error.js'
import { isRegularGoMode } from '../../../../src/build/filesync/file-mode.js'
import { PacketType, type FsutilPacket, type FsutilStat } from '../../../../src/build/filesync/fsutil-types.js'
import { sendContext } from '../../../../src/build/filesync/send-context.js'
import { CanceledError } from '../../../../src/grpc/errors.js'
import { openFilesUnder } from './open-files.js'
import { packetPipe, type PipeEnd } from './packet-pipe.js'

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-send-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

async function make(files: Record<string, string | Buffer>): Promise<void> {
  for (const [p, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true })
    await writeFile(join(root, p), content)
  }
}

/** A deterministic shuffle (the test must not depend on Math.random to be reproducible). */
function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

/**
 * The daemon's side, in-test: reads the listing, asks for every regular file (not hard links) in a
 * shuffled order, all at once, checks each arrives whole, then sends FIN and waits for the FIN back.
 */
async function receiver(end: PipeEnd, seed = 1): Promise<{ stats: FsutilStat[]; contents: Map<string, Buffer>; finBack: boolean }> {
  const stats: FsutilStat[] = []
  const chunks = new Map<number, Buffer[]>()
  const contents = new Map<string, Buffer>()
  const it = end.receive()[Symbol.asyncIterator]()
  for (;;) {
    const { value, done } = await it.next()
    if (done === true) throw new Error('stream ended during listing')
    expect(value.type).toBe(PacketType.STAT)
    if (value.stat === undefined) break
    stats.push(value.stat)
  }
  const wanted = stats.map((s, id) => ({ s, id })).filter(({ s }) => isRegularGoMode(s.mode) && s.linkname === '')
  for (const { id } of shuffle(wanted, seed)) {
    chunks.set(id, [])
    await end.send({ type: PacketType.REQ, id })
  }
  let open = wanted.length
  while (open > 0) {
    const { value, done } = await it.next()
    if (done === true) throw new Error('stream ended during data')
    expect(value.type).toBe(PacketType.DATA)
    const id = value.id ?? 0
    const parts = chunks.get(id)
    if (parts === undefined) throw new Error(`DATA for ${id} not asked for`)
    if (value.data === undefined || value.data.length === 0) {
      contents.set(stats[id]?.path ?? '', Buffer.concat(parts))
      chunks.delete(id)
      open--
    } else parts.push(Buffer.from(value.data))
  }
  await end.send({ type: PacketType.FIN })
  const last = await it.next()
  end.close()
  return { stats, contents, finBack: last.done !== true && last.value.type === PacketType.FIN }
}

describe('sendContext', () => {
  it('lists every entry, ends with an empty STAT, serves REQs in random order, answers FIN', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7)
    await make({ 'a/b': 'ab', 'a.b': 'a.b', 'a/c/d': 'acd', big, empty: '' })
    await symlink('a/b', join(root, 'link'))
    const [ours, theirs] = packetPipe()
    const [result, seen] = await Promise.all([sendContext(root, { chunkSize: 64 * 1024 }, ours), receiver(theirs, 7)])
    expect(seen.stats.map((s) => s.path)).toEqual(['a', 'a/b', 'a/c', 'a/c/d', 'a.b', 'big', 'empty', 'link'])
    expect(seen.contents.get('a/c/d')?.toString()).toBe('acd')
    expect(seen.contents.get('big')?.equals(big)).toBe(true)
    expect(seen.contents.get('empty')?.length).toBe(0)
    expect(seen.finBack).toBe(true)
    expect(result).toEqual({ entries: 8, filesSent: 5, bytesSent: big.length + 2 + 3 + 3 })
    // The listing came first and closed with exactly one empty STAT.
    const statEnd = ours.sent.findIndex((p) => p.type === PacketType.STAT && p.stat === undefined)
    expect(statEnd).toBe(8)
    expect(ours.sent.slice(0, 8).every((p) => p.type === PacketType.STAT)).toBe(true)
    // No chunk larger than asked for.
    expect(Math.max(...ours.sent.map((p) => p.data?.length ?? 0))).toBeLessThanOrEqual(64 * 1024)
  })

  it('serves each order of requests the same (several seeds)', async () => {
    const files: Record<string, string> = {}
    for (let i = 0; i < 50; i++) files[`d${i % 5}/f${i}`] = `file ${i} `.repeat(i)
    await make(files)
    for (const seed of [1, 2, 3]) {
      const [ours, theirs] = packetPipe(4)
      const [, seen] = await Promise.all([sendContext(root, { concurrency: 3 }, ours), receiver(theirs, seed)])
      for (const [p, c] of Object.entries(files)) expect(seen.contents.get(p)?.toString()).toBe(c)
    }
  })

  it('sends only what the receiver asks for', async () => {
    await make({ a: 'a', b: 'b', c: 'c' })
    const [ours, theirs] = packetPipe()
    const sending = sendContext(root, {}, ours)
    for await (const p of theirs.receive()) if (p.type === PacketType.STAT && p.stat === undefined) break
    await theirs.send({ type: PacketType.REQ, id: 1 })
    await theirs.send({ type: PacketType.FIN })
    theirs.close()
    // The FIN waits for the DATA in flight, so it is the last packet.
    await expect(sending).resolves.toMatchObject({ filesSent: 1, bytesSent: 1 })
    const data = ours.sent.filter((p) => p.type === PacketType.DATA)
    expect(data.map((p) => [p.id, Buffer.from(p.data ?? []).toString()])).toEqual([[1, 'b'], [1, '']])
    expect(ours.sent.at(-1)?.type).toBe(PacketType.FIN)
  })

  it('answers a REQ for a directory, an unknown ID or a repeated ID with ERR and rejects', async () => {
    await make({ 'dir/f': 'x' })
    for (const ids of [[0], [99], [1, 1]]) {
      const [ours, theirs] = packetPipe()
      const sending = sendContext(root, {}, ours)
      for await (const p of theirs.receive()) if (p.type === PacketType.STAT && p.stat === undefined) break
      for (const id of ids) await theirs.send({ type: PacketType.REQ, id })
      const err: unknown = await sending.catch((e: unknown) => e)
      expect(err).toBeInstanceOf(FileSyncError)
      expect(err).toMatchObject({ reason: 'UnknownFile', code: 'InvalidArgument' })
      const last = ours.sent.at(-1)
      expect(last?.type).toBe(PacketType.ERR)
      expect(Buffer.from(last?.data ?? []).toString()).toMatch(/invalid file request/)
    }
  })

  it('rejects with the receiver’s text when it sends ERR, without answering ERR', async () => {
    await make({ f: 'x' })
    const [ours, theirs] = packetPipe()
    const sending = sendContext(root, {}, ours)
    await theirs.send({ type: PacketType.ERR, data: new TextEncoder().encode('disk full') })
    const err: unknown = await sending.catch((e: unknown) => e)
    expect(err).toMatchObject({ reason: 'PeerError', message: 'error from receiver: disk full' })
    expect(ours.sent.some((p) => p.type === PacketType.ERR)).toBe(false)
  })

  it('rejects when the stream ends before FIN', async () => {
    await make({ f: 'x' })
    const [ours, theirs] = packetPipe()
    const sending = sendContext(root, {}, ours)
    theirs.close()
    await expect(sending).rejects.toMatchObject({ reason: 'Protocol' })
  })

  it('sends ERR and rejects for a bad pattern or a missing context', async () => {
    const [ours] = packetPipe()
    await expect(sendContext(root, { excludePatterns: ['a['] }, ours)).rejects.toMatchObject({ reason: 'BadPattern' })
    expect(ours.sent.at(-1)?.type).toBe(PacketType.ERR)
    const [ours2] = packetPipe()
    await expect(sendContext(join(root, 'missing'), {}, ours2)).rejects.toMatchObject({ reason: 'BadContext' })
  })

  it('aborts mid-file: rejects with CanceledError and closes the file', async () => {
    await make({ big: Buffer.alloc(8 * 1024 * 1024, 1) })
    const [ours, theirs] = packetPipe(2)
    const ac = new AbortController()
    const sending = sendContext(root, { chunkSize: 64 * 1024 }, ours, ac.signal)
    const it = theirs.receive()[Symbol.asyncIterator]()
    for (;;) {
      const { value } = await it.next()
      if (value?.type === PacketType.STAT && value.stat === undefined) break
    }
    await theirs.send({ type: PacketType.REQ, id: 0 })
    let chunks = 0
    for (;;) {
      const { value } = await it.next()
      if (value?.type === PacketType.DATA && ++chunks === 3) break
    }
    ac.abort(new Error('user stop'))
    // Keep draining so a pending send can finish (a real transport rejects it when canceled).
    const drain = (async () => {
      for (;;) if ((await it.next()).done === true) return
    })()
    const err: unknown = await sending.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    expect((err as Error).cause).toMatchObject({ message: 'user stop' })
    const dataPackets = ours.sent.filter((p: FsutilPacket) => p.type === PacketType.DATA).length
    expect(dataPackets).toBeLessThan(128)
    ours.close()
    await drain
    expect(await openFilesUnder(root)).toEqual([])
  })

  it('rejects at once for an already aborted signal', async () => {
    await make({ f: 'x' })
    const [ours] = packetPipe()
    const err: unknown = await sendContext(root, {}, ours, AbortSignal.abort('gone')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    expect(ours.sent.some((p) => p.type === PacketType.DATA)).toBe(false)
  })
})

describe('sendContext when files change after the listing', () => {
  it('sends a vanished file empty, and refuses one replaced by a symlink', async () => {
    await make({ gone: 'x', swapped: 'y' })
    const outside = await mkdtemp(join(tmpdir(), 'csdk-send-outside-'))
    try {
      await writeFile(join(outside, 'secret'), 'secret')
      const [ours, theirs] = packetPipe()
      const sending = sendContext(root, {}, ours)
      const it = theirs.receive()[Symbol.asyncIterator]()
      for (;;) {
        const { value } = await it.next()
        if (value?.type === PacketType.STAT && value.stat === undefined) break
      }
      await rm(join(root, 'gone'))
      await rm(join(root, 'swapped'))
      await symlink(join(outside, 'secret'), join(root, 'swapped'))
      await theirs.send({ type: PacketType.REQ, id: 0 })
      const first = await it.next()
      expect(first.value).toEqual({ type: PacketType.DATA, id: 0 })
      await theirs.send({ type: PacketType.REQ, id: 1 })
      const err: unknown = await sending.catch((e: unknown) => e)
      expect(err).toMatchObject({ reason: 'Io', cause: { code: 'ELOOP' } })
      expect(ours.sent.some((p) => Buffer.from(p.data ?? []).toString() === 'secret')).toBe(false)
      expect(ours.sent.at(-1)?.type).toBe(PacketType.ERR)
    } finally {
      await rm(outside, { recursive: true, force: true })
    }
  })
})
