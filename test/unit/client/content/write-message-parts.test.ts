import { create, toBinary } from '@bufbuild/protobuf'
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { encodeWriteMessage } from '../../../../src/client/content/write-message.js'
import { WriteAction, WriteContentRequestSchema } from '../../../../src/gen/containerd/services/content/v1/content_pb.js'

function join(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)))
}

describe('hand-encoded content WRITE messages with the payload in pieces', () => {
  it('encodes pieces as one data field, byte for byte like protobuf-es, without copying them', () => {
    const pieces = [randomBytes(65536), randomBytes(0), randomBytes(17), randomBytes(1024 * 1024 - 65553)]
    const data = Buffer.concat(pieces)
    const ours = encodeWriteMessage(Buffer.from('layer-sha256:abc'), 3 * 1024 * 1024, pieces)
    const theirs = toBinary(WriteContentRequestSchema, create(WriteContentRequestSchema, { action: WriteAction.WRITE, ref: 'layer-sha256:abc', offset: 3n * 1024n * 1024n, data }))
    expect(join(ours.parts).equals(Buffer.from(theirs))).toBe(true)
    expect(ours.byteLength).toBe(theirs.byteLength)
    // The non-empty pieces are the message's last parts, the very same objects. Compared by identity:
    // a deep toEqual walks the 1 MiB buffers byte by byte and alone takes seconds on a loaded machine.
    const last = ours.parts.slice(-3)
    expect(last).toHaveLength(3)
    expect(last[0]).toBe(pieces[0])
    expect(last[1]).toBe(pieces[2])
    expect(ours.parts[ours.parts.length - 1]).toBe(pieces[3])
  })

  it('encodes an empty list like an empty payload', () => {
    const ours = encodeWriteMessage(Buffer.from('r'), 5, [])
    const theirs = toBinary(WriteContentRequestSchema, create(WriteContentRequestSchema, { action: WriteAction.WRITE, ref: 'r', offset: 5n }))
    expect(join(ours.parts).equals(Buffer.from(theirs))).toBe(true)
  })
})
