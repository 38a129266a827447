import { PreEncoded } from '../../grpc/pre-encoded.js'

// Field tags of containerd.services.content.v1.WriteContentRequest (field number << 3 | wire type):
// action = 1 (varint), ref = 2 (length-delimited), offset = 5 (varint), data = 6 (length-delimited).
const TAG_ACTION = 0x08
const TAG_REF = 0x12
const TAG_OFFSET = 0x28
const TAG_DATA = 0x32
const ACTION_WRITE = 1

/**
 * Encodes a WRITE request by hand: the small head (action, ref, offset, data length) is built here and
 * the payload is sent as it is, behind it. `data` may be given in pieces (the chunks a socket delivered),
 * which are sent one after another as one `data` field, still without being joined. The generic encoder would copy every megabyte into a growing
 * buffer and then out of it again; on a pull that was a third of the client's CPU. The bytes are the
 * same as the encoder's (fields in number order, proto3 defaults left out); a unit test checks that.
 */
export function encodeWriteMessage(ref: Uint8Array, offset: number, data: Uint8Array | readonly Uint8Array[]): PreEncoded {
  const pieces = data instanceof Uint8Array ? [data] : data
  let dataBytes = 0
  for (const piece of pieces) dataBytes += piece.byteLength
  const head: number[] = [TAG_ACTION, ACTION_WRITE]
  if (ref.byteLength > 0) {
    head.push(TAG_REF)
    pushVarint(head, ref.byteLength)
  }
  const tail: number[] = []
  if (offset > 0) {
    tail.push(TAG_OFFSET)
    pushVarint(tail, offset)
  }
  if (dataBytes > 0) {
    tail.push(TAG_DATA)
    pushVarint(tail, dataBytes)
  }
  const parts: Uint8Array[] = [Uint8Array.from(head)]
  if (ref.byteLength > 0) parts.push(ref)
  parts.push(Uint8Array.from(tail))
  for (const piece of pieces) if (piece.byteLength > 0) parts.push(piece)
  return new PreEncoded(parts)
}

// Unsigned base-128 varint of a non-negative safe integer (offsets stay far below 2^53).
function pushVarint(out: number[], value: number): void {
  let v = value
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
}
