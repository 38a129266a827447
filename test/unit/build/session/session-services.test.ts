import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { FsutilPacket, PacketStream } from '../../../../src/build/filesync/fsutil-types.js'
import { receiveFiles } from '../../../../src/build/filesync/receive-files.js'
import { packetFromProto, packetToProto } from '../../../../src/build/session/packet-mapping.js'
import { sessionMethods } from '../../../../src/build/session/session-methods.js'
import { CredentialsRequestSchema, CredentialsResponseSchema } from '../../../../src/gen/moby/buildkit/session/auth/auth_pb.js'
import { GetSecretRequestSchema, GetSecretResponseSchema } from '../../../../src/gen/moby/buildkit/session/secrets/secrets_pb.js'
import { PacketSchema } from '../../../../src/gen/moby/fsutil/types/wire_pb.js'
import { GrpcCode } from '../../../../src/grpc/errors.js'
import { openCall, startPeer, type OpenCall, type Peer } from './grpc-peer.js'

let peer: Peer | undefined
let base: string
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'csdk-session-'))
})
afterEach(async () => {
  await peer?.close()
  peer = undefined
  await rm(base, { recursive: true, force: true })
})

/** The daemon's side of a DiffCopy call as a PacketStream, for receiveFiles. */
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

async function unary(p: Peer, path: string, request: Uint8Array): Promise<{ answer: Buffer | undefined; code: number; message: string | undefined }> {
  const call = openCall(p.client, path)
  call.send(request)
  call.stream.end()
  let answer: Buffer | undefined
  for await (const m of call.messages()) answer = m
  return { answer, ...(await call.status) }
}

describe('session services', () => {
  it('serves a local over DiffCopy: receiveFiles on the daemon side gets the tree, filtered by the metadata', async () => {
    const src = join(base, 'src')
    await mkdir(join(src, 'sub'), { recursive: true })
    await writeFile(join(src, 'Dockerfile'), 'FROM scratch\n')
    await writeFile(join(src, 'sub', 'big.bin'), Buffer.alloc(1024 * 1024, 7))
    await writeFile(join(src, 'skip.log'), 'no')
    peer = startPeer(sessionMethods({ locals: new Map([['context', { dir: src }]]) }))
    const call = openCall(peer.client, '/moby.filesync.v1.FileSync/DiffCopy', { 'dir-name': 'context', 'exclude-patterns': ['*.log', 'nothing'] })
    const got = await receiveFiles(join(base, 'dst'), packetStreamOf(call))
    call.stream.end()
    expect(await call.status).toEqual({ code: GrpcCode.OK, message: undefined })
    expect(got).toMatchObject({ files: 2, bytes: 1024 * 1024 + 13 })
    expect(await readFile(join(base, 'dst', 'Dockerfile'), 'utf8')).toBe('FROM scratch\n')
    expect((await readFile(join(base, 'dst', 'sub', 'big.bin'))).equals(Buffer.alloc(1024 * 1024, 7))).toBe(true)
    await expect(readFile(join(base, 'dst', 'skip.log'))).rejects.toThrow()
  })

  it('answers NotFound for a dir-name it does not have', async () => {
    peer = startPeer(sessionMethods({ locals: new Map() }))
    const call = openCall(peer.client, '/moby.filesync.v1.FileSync/DiffCopy', { 'dir-name': 'dockerfile' })
    for await (const _ of call.messages()) void _
    expect(await call.status).toEqual({ code: GrpcCode.NotFound, message: 'no local directory named "dockerfile" in this session' })
  })

  it('answers Credentials from the callback, empty without one; GetTokenAuthority is Unimplemented', async () => {
    peer = startPeer(sessionMethods({ credentials: (host) => Promise.resolve(host === 'r.example' ? { username: 'u', secret: 's' } : undefined) }))
    const ask = (host: string): Uint8Array => toBinary(CredentialsRequestSchema, create(CredentialsRequestSchema, { Host: host }))
    const known = await unary(peer, '/moby.filesync.v1.Auth/Credentials', ask('r.example'))
    expect(fromBinary(CredentialsResponseSchema, known.answer!)).toMatchObject({ Username: 'u', Secret: 's' })
    const unknown = await unary(peer, '/moby.filesync.v1.Auth/Credentials', ask('other.example'))
    expect(unknown.code).toBe(GrpcCode.OK)
    expect(fromBinary(CredentialsResponseSchema, unknown.answer!)).toMatchObject({ Username: '', Secret: '' })
    const authority = await unary(peer, '/moby.filesync.v1.Auth/GetTokenAuthority', new Uint8Array())
    expect(authority.code).toBe(GrpcCode.Unimplemented)
  })

  it('answers GetSecret from the map and NotFound for a missing ID; without secrets the service is not there', async () => {
    peer = startPeer(sessionMethods({ secrets: new Map([['npmrc', Buffer.from('token=1')]]) }))
    const ask = (id: string): Uint8Array => toBinary(GetSecretRequestSchema, create(GetSecretRequestSchema, { ID: id }))
    const found = await unary(peer, '/moby.buildkit.secrets.v1.Secrets/GetSecret', ask('npmrc'))
    expect(Buffer.from(fromBinary(GetSecretResponseSchema, found.answer!).data).toString()).toBe('token=1')
    const missing = await unary(peer, '/moby.buildkit.secrets.v1.Secrets/GetSecret', ask('nope'))
    expect(missing).toMatchObject({ code: GrpcCode.NotFound, message: 'secret "nope" not found' })
    await peer.close()
    peer = startPeer(sessionMethods({}))
    expect((await unary(peer, '/moby.buildkit.secrets.v1.Secrets/GetSecret', ask('npmrc'))).code).toBe(GrpcCode.Unimplemented)
  })
})
