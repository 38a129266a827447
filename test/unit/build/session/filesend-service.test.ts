import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Writable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { FsutilPacket, PacketStream } from '../../../../src/build/filesync/fsutil-types.js'
import { sendContext } from '../../../../src/build/filesync/send-context.js'
import { exporterIdOf, exportMetadataOf, type ExportMetadata, type ExportTarget } from '../../../../src/build/session/filesend-service.js'
import { packetFromProto, packetToProto } from '../../../../src/build/session/packet-mapping.js'
import { sessionMethods } from '../../../../src/build/session/session-methods.js'
import { BytesMessageSchema } from '../../../../src/gen/moby/buildkit/session/filesync/filesync_pb.js'
import { PacketSchema } from '../../../../src/gen/moby/fsutil/types/wire_pb.js'
import { GrpcCode } from '../../../../src/grpc/errors.js'
import { openCall, startPeer, type OpenCall, type Peer } from './grpc-peer.js'

const FILESEND = '/moby.filesync.v1.FileSend/DiffCopy'

let peer: Peer | undefined
let base: string
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'csdk-filesend-'))
})
afterEach(async () => {
  await peer?.close()
  peer = undefined
  await rm(base, { recursive: true, force: true })
})

const bytes = (data: Uint8Array): Uint8Array => toBinary(BytesMessageSchema, create(BytesMessageSchema, { data }))

/** A sink that keeps what it is given; each write takes `delayMs`, and `fail` makes a write or the final flush fail. */
class Collector extends Writable {
  readonly chunks: Buffer[] = []
  destroyedWith: Error | null | undefined
  flushed = false
  /** The most bytes ever buffered in the sink: bounded when the writer waits for 'drain'. */
  maxBuffered = 0
  constructor(private readonly opts: { delayMs?: number; failWriteAt?: number; failFinal?: boolean; highWaterMark?: number } = {}) {
    super({ highWaterMark: opts.highWaterMark ?? 16 * 1024 })
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.opts.failWriteAt === this.chunks.length) {
      callback(new Error('disk full'))
      return
    }
    this.chunks.push(chunk)
    this.maxBuffered = Math.max(this.maxBuffered, this.writableLength)
    setTimeout(() => callback(), this.opts.delayMs ?? 0)
  }
  override _final(callback: (error?: Error | null) => void): void {
    setTimeout(() => {
      if (this.opts.failFinal === true) {
        callback(new Error('flush failed'))
        return
      }
      this.flushed = true
      callback()
    }, 20)
  }
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.destroyedWith = error
    callback(error)
  }
  text(): string {
    return Buffer.concat(this.chunks).toString()
  }
}

/** The daemon's side of a local export: fsutil packets straight in the gRPC messages. */
function packetStreamOf(call: OpenCall): PacketStream {
  return {
    send: (packet: FsutilPacket) => {
      call.send(toBinary(PacketSchema, create(PacketSchema, packetToProto(packet))))
      return Promise.resolve()
    },
    async *receive() {
      for await (const m of call.messages()) yield packetFromProto(fromBinary(PacketSchema, m))
    },
  }
}

async function drain(call: OpenCall): Promise<{ code: number; message: string | undefined }> {
  for await (const _ of call.messages()) void _
  return call.status
}

describe('FileSend', () => {
  it('reads the exporter id and the exporter-md-* metadata', () => {
    expect(exporterIdOf({})).toBe('0')
    expect(exporterIdOf({ 'buildkit-attachable-exporter-id': ['2'] })).toBe('2')
    expect(exportMetadataOf({ 'exporter-md-image.name': ['a', 'b'], 'exporter-md-': ['x'], 'dir-name': ['y'] })).toEqual({ 'image.name': 'a,b' })
  })

  it('writes an archive export to the stream of its exporter id, and answers OK only once the sink flushed', async () => {
    const sink = new Collector()
    let opened: ExportMetadata | undefined
    const targets = new Map<string, ExportTarget>([
      ['0', { kind: 'stream', open: () => Promise.reject(new Error('not this one')) }],
      ['1', { kind: 'stream', open: (md) => { opened = md; return sink } }],
    ])
    peer = startPeer(sessionMethods({ exports: targets }))
    const call = openCall(peer.client, FILESEND, { 'buildkit-attachable-exporter-id': '1', 'exporter-md-containerimage.digest': 'sha256:abc' })
    call.send(bytes(Buffer.from('hello ')))
    call.send(bytes(new Uint8Array()))
    call.send(bytes(Buffer.from('world')))
    call.stream.end()
    expect(await drain(call)).toEqual({ code: GrpcCode.OK, message: undefined })
    expect(sink.flushed).toBe(true)
    expect(sink.text()).toBe('hello world')
    expect(opened).toEqual({ 'containerimage.digest': 'sha256:abc' })
  })

  it('uses target 0 when the daemon sends no exporter id (BuildKit before v0.13)', async () => {
    const sink = new Collector()
    peer = startPeer(sessionMethods({ exports: new Map([['0', { kind: 'stream', open: () => sink }]]) }))
    const call = openCall(peer.client, FILESEND)
    call.send(bytes(Buffer.from('tar bytes')))
    call.stream.end()
    expect(await drain(call)).toEqual({ code: GrpcCode.OK, message: undefined })
    expect(sink.text()).toBe('tar bytes')
  })

  it('answers NotFound for an exporter id without a target', async () => {
    peer = startPeer(sessionMethods({ exports: new Map([['0', { kind: 'directory', dir: base }]]) }))
    const call = openCall(peer.client, FILESEND, { 'buildkit-attachable-exporter-id': '3' })
    call.stream.end()
    expect(await drain(call)).toEqual({ code: GrpcCode.NotFound, message: 'no export target for exporter "3" in this session' })
  })

  it('honours the sink\'s back-pressure: a slow sink gets every byte in order', async () => {
    const sink = new Collector({ delayMs: 2, highWaterMark: 1024 })
    peer = startPeer(sessionMethods({ exports: new Map([['0', { kind: 'stream', open: () => sink }]]) }))
    const call = openCall(peer.client, FILESEND)
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(4096, i))
    for (const c of chunks) call.send(bytes(c))
    call.stream.end()
    expect(await drain(call)).toEqual({ code: GrpcCode.OK, message: undefined })
    expect(Buffer.concat(sink.chunks).equals(Buffer.concat(chunks))).toBe(true)
    // Without waiting for 'drain' the whole 256 KiB would pile up in the sink.
    expect(sink.maxBuffered).toBeLessThanOrEqual(1024 + 4096)
  })

  it('writes into a PassThrough read by someone else (finished once the reader took everything)', async () => {
    const sink = new PassThrough({ highWaterMark: 8 })
    peer = startPeer(sessionMethods({ exports: new Map([['0', { kind: 'stream', open: () => sink }]]) }))
    const read = text(sink)
    const call = openCall(peer.client, FILESEND)
    for (let i = 0; i < 100; i++) call.send(bytes(Buffer.from(`line ${i}\n`)))
    call.stream.end()
    expect(await drain(call)).toEqual({ code: GrpcCode.OK, message: undefined })
    expect((await read).split('\n')).toHaveLength(101)
  })

  it('fails the call with the sink\'s write error, which the daemon sees', async () => {
    const sink = new Collector({ failWriteAt: 1 })
    peer = startPeer(sessionMethods({ exports: new Map([['0', { kind: 'stream', open: () => sink }]]) }))
    const call = openCall(peer.client, FILESEND)
    call.send(bytes(Buffer.from('a')))
    call.send(bytes(Buffer.from('b')))
    // No half-close: the error must end the call while the daemon is still sending.
    expect(await drain(call)).toEqual({ code: GrpcCode.Unknown, message: 'writing the output of exporter 0: disk full' })
    expect(sink.destroyed).toBe(true)
  })

  it('fails the call when the sink fails to flush at the end', async () => {
    const sink = new Collector({ failFinal: true })
    peer = startPeer(sessionMethods({ exports: new Map([['0', { kind: 'stream', open: () => sink }]]) }))
    const call = openCall(peer.client, FILESEND)
    call.send(bytes(Buffer.from('a')))
    call.stream.end()
    expect(await drain(call)).toEqual({ code: GrpcCode.Unknown, message: 'writing the output of exporter 0: flush failed' })
  })

  it('fails the call when the sink cannot be opened', async () => {
    peer = startPeer(sessionMethods({ exports: new Map([['0', { kind: 'stream', open: () => Promise.reject(new Error('EACCES')) }]]) }))
    const call = openCall(peer.client, FILESEND)
    call.stream.end()
    expect(await drain(call)).toEqual({ code: GrpcCode.Unknown, message: 'opening the output of exporter 0: EACCES' })
  })

  it('destroys the sink with a CanceledError when the daemon cancels the transfer', async () => {
    const sink = new Collector()
    let opened!: () => void
    const isOpen = new Promise<void>((resolve) => { opened = resolve })
    peer = startPeer(sessionMethods({ exports: new Map([['0', { kind: 'stream', open: () => { opened(); return sink } }]]) }))
    const call = openCall(peer.client, FILESEND)
    call.send(bytes(Buffer.from('partial')))
    await isOpen
    await new Promise((r) => setTimeout(r, 20))
    // grpc-go cancels with a bare RST_STREAM(CANCEL), which is what destroy() sends.
    call.stream.destroy()
    await new Promise<void>((resolve) => sink.once('close', () => resolve()))
    expect(sink.destroyedWith).toMatchObject({ code: 'Canceled' })
    expect(sink.flushed).toBe(false)
  })

  it('receives a local export into its directory (fsutil packets as the messages)', async () => {
    const src = join(base, 'out')
    await mkdir(join(src, 'sub'), { recursive: true })
    await writeFile(join(src, 'a.txt'), 'A\n')
    await writeFile(join(src, 'sub', 'big.bin'), Buffer.alloc(300 * 1024, 5))
    const dst = join(base, 'dst')
    peer = startPeer(sessionMethods({ exports: new Map([['0', { kind: 'directory', dir: dst }]]) }))
    const call = openCall(peer.client, FILESEND, { 'buildkit-attachable-exporter-id': '0' })
    // The daemon's side: fsutil's sender on the call, as BuildKit's CopyToCaller runs it.
    const sent = await sendContext(src, {}, packetStreamOf(call))
    expect(sent.filesSent).toBe(2)
    expect(await drain(call)).toEqual({ code: GrpcCode.OK, message: undefined })
    expect(await readFile(join(dst, 'a.txt'), 'utf8')).toBe('A\n')
    expect((await readFile(join(dst, 'sub', 'big.bin'))).equals(Buffer.alloc(300 * 1024, 5))).toBe(true)
  })
})
