import { create, toBinary } from '@bufbuild/protobuf'
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { encodeWriteMessage } from '../../../../src/client/content/write-message.js'
import { WriteAction, WriteContentRequestSchema } from '../../../../src/gen/containerd/services/content/v1/content_pb.js'

function join(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)))
}

describe('hand-encoded content WRITE messages', () => {
  const cases: [string, string, number, number][] = [
    ['offset 0', 'layer-sha256:abc', 0, 1024],
    ['small offset', 'r', 1, 10],
    ['offset over 2^32', 'layer-' + 'x'.repeat(200), 5 * 2 ** 32 + 17, 3],
    ['1 MiB payload', 'config-sha256:' + 'f'.repeat(64), 123 * 1024 * 1024, 1024 * 1024],
    ['empty payload', 'empty', 7, 0],
    ['empty ref', '', 99, 5],
  ]
  for (const [name, ref, offset, size] of cases) {
    it(`matches protobuf-es byte for byte: ${name}`, () => {
      const data = randomBytes(size)
      const ours = encodeWriteMessage(Buffer.from(ref), offset, data)
      const theirs = toBinary(WriteContentRequestSchema, create(WriteContentRequestSchema, { action: WriteAction.WRITE, ref, offset: BigInt(offset), data }))
      expect(join(ours.parts).equals(Buffer.from(theirs))).toBe(true)
      expect(ours.byteLength).toBe(theirs.byteLength)
    })
  }

  it('sends the payload as it is, without copying it', () => {
    const data = randomBytes(4096)
    const message = encodeWriteMessage(Buffer.from('ref'), 10, data)
    expect(message.parts[message.parts.length - 1]).toBe(data)
  })
})
