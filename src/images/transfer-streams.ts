import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf'
import type { Any } from '@bufbuild/protobuf/wkt'
import { randomBytes } from 'node:crypto'
import type { ClientCore } from '../client/client.js'
import { InternalError } from '../grpc/errors.js'
import { AsyncQueue } from '../util/async-queue.js'
import { StreamInitSchema } from '../gen/containerd/services/streaming/v1/streaming_pb.js'

/** Packs a message into an Any the way containerd's typeurl does: the bare message name as the URL. */
export function packAny<D extends DescMessage>(schema: D, init: MessageInitShape<D>): { typeUrl: string; value: Uint8Array } {
  return { typeUrl: schema.typeName, value: toBinary(schema, create(schema, init)) }
}

/** Unpacks an Any if it holds `schema`'s message (with or without a `type.googleapis.com/` prefix). */
export function unpackAny<D extends DescMessage>(any: Any, schema: D): MessageShape<D> | undefined {
  const name = any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1)
  return name === schema.typeName ? fromBinary(schema, any.value) : undefined
}

/** A side channel the Transfer service talks to us through (progress, credentials). */
export interface TransferStream {
  /** The id to name in the transfer request. */
  readonly id: string
  /** Ends the stream. */
  close(): void
  /** Settles when the stream has ended; rejects if it failed. */
  readonly done: Promise<void>
}

/**
 * Opens a Streaming.Stream session: sends `StreamInit{id}`, waits for containerd's acknowledgement, then
 * hands every message to `onMessage`, whose answer (if any) is sent back. containerd ≥ 1.7.
 */
export async function openTransferStream(
  client: ClientCore,
  onMessage: (message: Any) => { typeUrl: string; value: Uint8Array } | undefined,
  signal?: AbortSignal,
): Promise<TransferStream> {
  const id = `csdk-${Date.now()}-${randomBytes(6).toString('hex')}`
  const requests = new AsyncQueue<{ typeUrl: string; value: Uint8Array }>()
  requests.push(packAny(StreamInitSchema, { id }))
  const responses = client.services.streaming.stream(requests, { signal })[Symbol.asyncIterator]()
  const ack = await responses.next()
  if (ack.done === true) throw new InternalError('containerd closed the transfer stream before acknowledging it')
  const done = (async () => {
    for (let r = await responses.next(); r.done !== true; r = await responses.next()) {
      const reply = onMessage(r.value)
      if (reply !== undefined) requests.push(reply)
    }
  })()
  done.catch(() => undefined)
  return { id, close: () => requests.close(), done }
}
